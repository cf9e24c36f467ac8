import CowFuzz
import CowModel
import Foundation
import Testing
import TestSupport

@Suite struct OptionsTests {
    @Test(arguments: ["1/1", "3/2", "-1/2", "a/b", "2", "0/65"])
    func badShardsAreRejected(_ s: String) {
        #expect(throws: OptionError.self) { try FuzzOptions.shard(s) }
    }

    @Test func goodOptionValuesParse() throws {
        #expect(try FuzzOptions.shard("2/4") == (2, 4))
        #expect(try FuzzOptions.opKinds("write,read,fork,write") == [.write, .read, .fork])
        #expect(try FuzzOptions.diff("linux-5.7,linux-5.8", available: PolicyRegistry.all.map(\.name)) == ("linux-5.7", "linux-5.8"))
        #expect(try FuzzOptions.maxOps(40) == 40)
    }

    @Test func badOptionValuesSayWhy() {
        #expect(throws: OptionError.self) { try FuzzOptions.opKinds("write,frobnicate") }
        #expect(throws: OptionError.self) { try FuzzOptions.diff("linux-5.7", available: ["linux-5.7"]) }
        #expect(throws: OptionError.self) { try FuzzOptions.diff("linux-5.7,linux-5.7", available: ["linux-5.7"]) }
        #expect(throws: OptionError.self) { try FuzzOptions.diff("linux-5.7,linux-9.9", available: ["linux-5.7"]) }
        #expect(throws: OptionError.self) { try FuzzOptions.maxOps(0) }
        do { _ = try FuzzOptions.shard("5/3"); Issue.record("accepted 5/3") } catch {
            #expect(!error.description.contains("\n"))
        }
    }

    /// The built tool exits 2 with one line on stderr for bad options.
    @Test(arguments: [
        ["fuzz", "--jobs", "0"], ["fuzz", "--shard", "4/4"], ["fuzz", "--time", "soon"], ["fuzz", "--bogus"],
        ["fuzz", "--ops", "nope"], ["fuzz", "--diff", "linux-5.7"], ["fuzz", "--runs", "10", "--time", "1s"],
        ["compare", "--policies", "linux-0.1"], ["shrink"], ["bench", "extra"],
    ])
    func badOptionsExitTwoWithOneLine(_ argv: [String]) throws {
        let exe = packageRoot.appendingPathComponent(".build/debug/cowfuzz").path
        try #require(FileManager.default.isExecutableFile(atPath: exe), "build the tool first: swift build")
        let p = Process()
        p.executableURL = URL(fileURLWithPath: exe)
        p.arguments = argv
        p.currentDirectoryURL = URL(fileURLWithPath: NSTemporaryDirectory())
        let err = Pipe(), out = Pipe()
        p.standardError = err
        p.standardOutput = out
        try p.run()
        p.waitUntilExit()
        let text = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        #expect(p.terminationStatus == 2, "\(argv): \(text)")
        #expect(text.split(separator: "\n").count == 1, "\(argv): \(text)")
    }
}
