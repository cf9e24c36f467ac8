import CowModel
import Foundation

/// The `--report FILE.json` of a fuzzing run (versioned).
public struct FuzzReport: Sendable, Codable {
    /// 2: signatures name the root cause (verdict, culprit, page, reference); entries
    /// carry the era range, the culprit fields and the catalogue entry.
    public static let formatVersion = 2

    public struct Settings: Sendable, Codable {
        public var seed: UInt64
        public var runs: Int?
        public var seconds: Double?
        public var jobs: Int
        public var policies: [String]
        public var diff: [String]?
        public var maxOps: Int
        public var ops: [String]
        public var swarm: Bool
        public var shard: String
        public var corpus: String?
        public var crashes: String?
        /// `model` or `real` (absent in older reports).
        public var backend: String?
        /// `--backings` (absent in older reports).
        public var backings: [String]?
    }

    public struct Entry: Sendable, Codable {
        public var signature: String
        public var kind: String
        public var opKind: String?
        /// The culprit decision site (`do_wp_page`), its criterion and action.
        public var culprit: String?
        public var page: String?
        public var ref: String?
        /// The signature's stable id (`Signature.hash`).
        public var hash: String
        public var policies: [String]
        /// `linux-4.8 … linux-5.8, fixed in linux-5.9` over the policies run.
        public var eraRange: String
        /// The catalogue entry (`B3a`) and its label, if the root cause is a historic bug.
        public var bug: String?
        public var bugLabel: String?
        public var status: String
        public var path: String?
        /// True when `path` holds another run's reproducer, no larger, that was kept.
        public var keptExisting: Bool?
        public var ops: Int
        public var originalOps: Int
        public var hits: Int
        public var programIndex: Int
        public var foundAtSeconds: Double
        public var foundAfterPrograms: Int
        public var predicateCalls: Int?
        public var shrinkSeconds: Double?
        public var shrinkPasses: [ShrinkPassStats]?
        /// The program of a flaky finding (nothing is written for it), to replay by hand.
        public var program: String?
    }

    public var formatVersion = FuzzReport.formatVersion
    public var tool = "cowfuzz"
    public var settings: Settings
    public var interrupted: Bool
    public var programs: Int
    public var opsExecuted: Int
    public var seconds: Double
    public var programsPerSecond: Double
    public var coverage: Int
    public var coverageByPolicy: [String: Int]
    public var coverageTimeline: [CoveragePoint]
    public var newFindings: Int
    public var findings: [Entry]
    public var counters: [String: Counters]
    /// Files of the corpus and crashes directories that could not be read as programs,
    /// with their errors (set by the command line tool; absent in older reports).
    public var skippedFiles: [String]?

    public init(config: CampaignConfig, result: CampaignResult) {
        let c = config
        settings = Settings(seed: c.seed, runs: c.runs, seconds: c.seconds, jobs: c.jobs, policies: c.effectiveBackend.policyNames,
                            diff: c.diff.map { [$0.0, $0.1] }, maxOps: c.generator.maxOps,
                            ops: c.generator.kinds.map(\.name), swarm: c.generator.swarm,
                            shard: "\(c.shard.index)/\(c.shard.count)", corpus: c.corpusDir, crashes: c.crashesDir,
                            backend: c.effectiveBackend.name, backings: c.generator.mappings.map(\.name))
        interrupted = result.interrupted
        programs = result.stats.programs
        opsExecuted = result.stats.opsExecuted
        seconds = result.stats.seconds
        programsPerSecond = result.stats.programsPerSecond
        coverage = result.stats.coverage
        coverageByPolicy = Dictionary(uniqueKeysWithValues: zip(result.policies, result.stats.coverageByPolicy))
        coverageTimeline = result.timeline
        newFindings = result.stats.newFindings
        findings = result.findings.map { f in
            let s = f.signature, culprit = s.rule == .none ? nil : s.site
            return Entry(signature: s.text, kind: s.kind.name, opKind: s.opKind?.name, culprit: culprit,
                  page: culprit == nil ? nil : s.page.text, ref: culprit == nil ? nil : s.ref.text, hash: s.hash,
                  policies: s.policies, eraRange: s.eraRange(among: result.policies), bug: f.bug?.id,
                  bugLabel: f.bug?.label, status: f.status.rawValue, path: f.path,
                  keptExisting: f.keptExisting ? true : nil, ops: f.ops,
                  originalOps: f.originalOps, hits: f.hits, programIndex: f.programIndex,
                  foundAtSeconds: f.foundAtSeconds, foundAfterPrograms: f.foundAfterPrograms,
                  predicateCalls: f.shrink?.predicateCalls, shrinkSeconds: f.shrink?.seconds, shrinkPasses: f.shrink?.passes,
                  program: f.status == .flaky ? f.program.text : nil)
        }
        counters = Dictionary(uniqueKeysWithValues: zip(result.policies, result.counters))
    }

    public func json() throws -> Data {
        let enc = JSONEncoder()
        enc.outputFormatting = [.prettyPrinted, .sortedKeys]
        return try enc.encode(self) + Data("\n".utf8)
    }

    /// Decodes a report, rejecting an unknown `formatVersion` clearly.
    public static func decode(_ data: Data) throws -> FuzzReport {
        struct Version: Decodable { var formatVersion: Int? }
        let v = try JSONDecoder().decode(Version.self, from: data)
        guard v.formatVersion == formatVersion else { throw CrashStoreError.unsupportedVersion(v.formatVersion) }
        return try JSONDecoder().decode(FuzzReport.self, from: data)
    }
}

/// JUnit XML for CI: one test case per signature; a new signature is a failure.
public enum JUnitReport {
    public static func xml(_ result: CampaignResult, seed: UInt64) -> String {
        func esc(_ s: String) -> String {
            s.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
                .replacingOccurrences(of: ">", with: "&gt;").replacingOccurrences(of: "\"", with: "&quot;")
        }
        let failures = result.findings.filter { $0.status == .new }.count
        var out = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
        out += "<testsuites name=\"cowfuzz\" tests=\"\(result.findings.count)\" failures=\"\(failures)\">\n"
        out += "  <testsuite name=\"cowfuzz.fuzz\" tests=\"\(result.findings.count)\" failures=\"\(failures)\" time=\"\(String(format: "%.3f", result.stats.seconds))\">\n"
        out += "    <properties><property name=\"seed\" value=\"\(seed)\"/><property name=\"programs\" value=\"\(result.stats.programs)\"/></properties>\n"
        for f in result.findings {
            let name = esc(f.signature.text + (f.bug.map { " — " + $0.id } ?? ""))
            out += "    <testcase classname=\"cowfuzz.\(f.signature.kind.name)\" name=\"\(name)\" time=\"0\">\n"
            switch f.status {
            case .new:
                let path = f.path ?? "(not written)"
                out += "      <failure message=\"new finding: \(name)\" type=\"\(f.signature.kind.name)\">"
                let bug = f.bug.map { "catalogued: \($0.label)\n" } ?? ""
                out += esc(bug + "eras: \(f.signature.eraRange(among: result.policies))\nreproducer \(path) (\(f.ops) ops); replay: cowfuzz replay \(path)\n\n" + f.program.text)
                out += "</failure>\n"
            case .known, .seen, .flaky:
                out += "      <system-out>\(esc("\(f.status.rawValue): \(f.path ?? "")"))</system-out>\n"
            }
            out += "    </testcase>\n"
        }
        out += "  </testsuite>\n</testsuites>\n"
        return out
    }
}

/// `cowfuzz compare`: policies × verdict kinds, and efficiency per 1000 ops.
public struct CompareMatrix: Sendable, Codable {
    public static let formatVersion = 1

    public struct Cell: Sendable, Codable {
        /// Distinct signatures of this kind that include the policy.
        public var signatures: Int
        /// The smallest reproducer among them.
        public var smallest: String?
        public var smallestOps: Int?
    }

    public struct Efficiency: Sendable, Codable {
        public var ops: Int
        public var copiesPer1000: Double
        public var unsharesPer1000: Double
        public var eagerForkCopiesPer1000: Double
        public var unnecessaryCopiesPer1000: Double
        /// Peak frames in use of each program, summed, per 1000 ops.
        public var peakFramesPer1000: Double
    }

    public var formatVersion = CompareMatrix.formatVersion
    public var seed: UInt64
    public var programs: Int
    public var kinds: [String]
    public var policies: [String]
    /// `cells[policy][kind]`.
    public var cells: [String: [String: Cell]]
    public var efficiency: [String: Efficiency]

    public init(result: CampaignResult, seed: UInt64) {
        self.seed = seed
        programs = result.stats.programs
        let ks = FindingKind.allCases.filter { k in !k.isDivergence || result.findings.contains { $0.signature.kind == k } }
        kinds = ks.map(\.name)
        policies = result.policies
        var cells: [String: [String: Cell]] = [:]
        for p in result.policies {
            var row: [String: Cell] = [:]
            for k in ks {
                let fs = result.findings.filter { $0.signature.kind == k && $0.signature.policies.contains(p) }
                let best = fs.min { ($0.ops, $0.path ?? "") < ($1.ops, $1.path ?? "") }
                row[k.name] = Cell(signatures: fs.count, smallest: best?.path, smallestOps: best?.ops)
            }
            cells[p] = row
        }
        self.cells = cells
        var eff: [String: Efficiency] = [:]
        for (p, c) in zip(result.policies, result.counters) {
            let per = c.opsExecuted > 0 ? 1000.0 / Double(c.opsExecuted) : 0
            eff[p] = Efficiency(ops: c.opsExecuted, copiesPer1000: Double(c.copies) * per,
                                unsharesPer1000: Double(c.unshares) * per,
                                eagerForkCopiesPer1000: Double(c.eagerForkCopies) * per,
                                unnecessaryCopiesPer1000: Double(c.unnecessaryCopies) * per,
                                peakFramesPer1000: Double(c.peakFrames) * per)
        }
        efficiency = eff
    }

    /// The matrix and the efficiency figures as aligned text tables.
    public var table: String {
        func pad(_ s: String, _ n: Int) -> String { s.count >= n ? s + " " : s + String(repeating: " ", count: n - s.count) }
        var out = "Signatures per policy and kind (count, smallest reproducer) over \(programs) programs, seed \(seed)\n\n"
        out += pad("policy", 12)
        for k in kinds { out += pad(k, 12) }
        out += "\n"
        for p in policies {
            out += pad(p, 12)
            for k in kinds {
                let c = cells[p]?[k]
                out += pad(c.map { $0.signatures == 0 ? "-" : "\($0.signatures) (\($0.smallestOps ?? 0) ops)" } ?? "-", 12)
            }
            out += "\n"
        }
        var paths: [String] = []
        for p in policies { for k in kinds { if let s = cells[p]?[k]?.smallest, !paths.contains(s) { paths.append(s) } } }
        if !paths.isEmpty {
            out += "\nSmallest reproducers:\n"
            for p in policies {
                for k in kinds {
                    if let c = cells[p]?[k], let s = c.smallest { out += "  \(pad(p, 11))\(pad(k, 11))\(s)\n" }
                }
            }
        }
        out += "\nEfficiency per 1000 ops (same programs on every policy)\n\n"
        out += pad("policy", 12) + pad("copies", 9) + pad("unshares", 10) + pad("eager-fork", 12) + pad("unneeded", 10) + pad("peak-frames", 12) + "\n"
        for p in policies {
            guard let e = efficiency[p] else { continue }
            out += pad(p, 12) + pad(String(format: "%.1f", e.copiesPer1000), 9) + pad(String(format: "%.1f", e.unsharesPer1000), 10)
                + pad(String(format: "%.1f", e.eagerForkCopiesPer1000), 12) + pad(String(format: "%.1f", e.unnecessaryCopiesPer1000), 10)
                + pad(String(format: "%.1f", e.peakFramesPer1000), 12) + "\n"
        }
        return out
    }

    /// The matrix as a Markdown table (for the nightly summary).
    public var markdown: String {
        var out = "| policy | " + kinds.joined(separator: " | ") + " |\n"
        out += "|---|" + kinds.map { _ in "---" }.joined(separator: "|") + "|\n"
        for p in policies {
            out += "| \(p) | " + kinds.map { k in
                guard let c = cells[p]?[k], c.signatures > 0 else { return "–" }
                return "\(c.signatures) ([\(c.smallestOps ?? 0) ops](\(c.smallest ?? "")))"
            }.joined(separator: " | ") + " |\n"
        }
        return out
    }

    public func json() throws -> Data {
        let enc = JSONEncoder()
        enc.outputFormatting = [.prettyPrinted, .sortedKeys]
        return try enc.encode(self) + Data("\n".utf8)
    }
}

/// The Markdown summary of a run (`--summary FILE.md`, the nightly report): figures,
/// the findings, and the compare matrix with efficiency per policy.
public enum MarkdownSummary {
    public static func render(config c: CampaignConfig, result r: CampaignResult) -> String {
        var out = "# cowfuzz run: seed \(c.seed)\n\n"
        out += String(format: "%d programs in %.0f s (%.0f programs/s, %d jobs), coverage %d, %d signatures, **%d new**%@.\n\n",
                      r.stats.programs, r.stats.seconds, r.stats.programsPerSecond, c.jobs, r.stats.coverage,
                      r.findings.count, r.stats.newFindings, r.interrupted ? " (interrupted)" : "")
        out += "Replay any run: `\(c.commandLine)`\n\n"
        let new = r.findings.filter { $0.status == .new }
        if new.isEmpty {
            out += "No new signature: every finding is already in the corpus.\n\n"
        } else {
            out += "## New findings\n\nTriage: replay, explain, and promote the keepers into `corpus/` (with their `@expect` lines).\n\n"
            out += "| root cause | eras | catalogue | ops | hits | reproducer |\n|---|---|---|---|---|---|\n"
            for f in new {
                out += "| `\(f.signature.text)` | \(f.signature.eraRange(among: r.policies)) | \(f.bug?.label ?? "–") | \(f.ops) | \(f.hits) | `\(f.path ?? "-")` |\n"
            }
            out += "\n"
        }
        let known = r.findings.filter { $0.status != .new }
        if !known.isEmpty {
            out += "## Known findings\n\n| root cause | status | eras | catalogue | hits | reproducer |\n|---|---|---|---|---|---|\n"
            for f in known {
                out += "| `\(f.signature.text)` | \(f.status.rawValue) | \(f.signature.eraRange(among: r.policies)) | \(f.bug?.id ?? "–") | \(f.hits) | `\(f.path ?? "-")` |\n"
            }
            out += "\n"
        }
        let m = CompareMatrix(result: r, seed: c.seed)
        out += "## Policy × verdict (distinct signatures, smallest reproducer)\n\n" + m.markdown + "\n"
        out += "## Efficiency per 1000 ops\n\n| policy | copies | unshares | eager fork copies | unnecessary copies | peak frames |\n|---|---|---|---|---|---|\n"
        for p in m.policies {
            guard let e = m.efficiency[p] else { continue }
            out += String(format: "| %@ | %.1f | %.1f | %.1f | %.1f | %.1f |\n", p, e.copiesPer1000, e.unsharesPer1000,
                          e.eagerForkCopiesPer1000, e.unnecessaryCopiesPer1000, e.peakFramesPer1000)
        }
        return out
    }
}
