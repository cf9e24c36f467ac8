import Foundation
import TestSupport
import Testing

/// `cowfuzz matrix --backend both` on this machine's kernel (issue 16 item 5): the real
/// column is what linux-6.x says wherever the kernel here can run the cell. No tier is
/// enabled, so no machine-wide knob is touched.
@Suite("real kernel matrix", .serialized)
struct RealMatrixTests {
    @Test("the real column matches linux-6.x on base pages and a partially mremap()'ed THP",
          .enabled(if: RealHere.available, RealHere.why))
    func realColumnMatchesLinux6() throws {
        let r = try runCowfuzz(["matrix", "--backend", "both", "--policies", "linux-5.7,linux-6.x", "--scenarios", "base,thp-mremap", "--json"])
        #expect(r.status == 0, "\(r.out.suffix(2000)) \(r.err)")
        let doc = try #require(try JSONSerialization.jsonObject(with: Data(r.out.utf8)) as? [String: Any])
        #expect(doc["backend"] as? String == "both" && doc["realTiers"] as? String == "none")
        let rows = try #require(doc["rows"] as? [[String: Any]])
        #expect(rows.count == 40)
        var ran = 0
        for row in rows {
            let name = "\(row["scenario"] ?? "")/\(row["case"] ?? "")"
            let cells = try #require(row["cells"] as? [String: Any])
            let real = try #require(cells["real"] as? [String: Any], "\(name)")
            let model = try #require(cells["linux-6.x"] as? [String: Any])
            #expect(real["agrees"] as? Bool == true, "\(name): \(real)")
            #expect((real["divergences"] as? [Any])?.isEmpty == true, "\(name): \(real)")
            guard real["result"] as? String != "skip" else {
                // Only what this machine cannot do: a R/O FOLL_PIN without CONFIG_GUP_TEST, or no THP here.
                let why = real["reason"] as? String ?? ""
                #expect(why.contains("GUP_TEST") || why.contains("THP"), "\(name): \(why)")
                continue
            }
            ran += 1
            #expect(real["text"] as? String == model["text"] as? String, "\(name): real \(real), linux-6.x \(model)")
        }
        // Every base-page case without a R/O pin runs here: fork, vmsplice, io_uring pins, pokemem.
        let baseRan = rows.filter { $0["scenario"] as? String == "base" && (($0["cells"] as? [String: Any])?["real"] as? [String: Any])?["result"] as? String != "skip" }
        #expect(baseRan.count == 12, "\(baseRan.map { $0["case"] ?? "" })")
        #expect(ran >= 12)
        // The era that has CVE-2020-29374 fails where the real kernel passes.
        let cve = rows.first { $0["scenario"] as? String == "base" && $0["case"] as? String == "vmsplice-child-unmap" }
        let cells = cve?["cells"] as? [String: Any]
        #expect((cells?["linux-5.7"] as? [String: Any])?["text"] as? String == "FAIL(isolation)")
        #expect((cells?["real"] as? [String: Any])?["text"] as? String == "pass")
    }
}
