import CowFuzz
import CowModel
import CowOracle
import Foundation
import Testing
import TestSupport

/// The catalogue of historic bugs (`KnownBugs`) against the corpus: each entry's own
/// reproducer shows it, on eras the entry lists, and no root cause matches two entries.
@Suite struct KnownBugsTests {
    static let registry = PolicyRegistry.all.map(\.name)
    let checker = ProgramChecker(policies: PolicyRegistry.all)

    func program(_ name: String) throws -> Program {
        let url = packageRoot.appendingPathComponent("corpus").appendingPathComponent(name)
        return try Program(parsing: try String(contentsOf: url, encoding: .utf8), file: name)
    }

    @Test(arguments: KnownBugs.all)
    func reproducerMapsToItsEntry(_ bug: KnownBug) throws {
        let prog = try program(bug.reproducer)
        let sigs = Signature.of(prog, outcomes: checker.check(prog))
        let mine = sigs.filter { KnownBugs.match($0)?.id == bug.id }
        #expect(!mine.isEmpty, "\(bug.reproducer) shows \(sigs.map(\.text)), none of them \(bug.id)")
        for s in mine {
            #expect(Set(s.policies).isSubset(of: Set(bug.eraNames)),
                    "\(bug.id): \(s.text) on \(s.policies), catalogued for \(bug.eras)")
        }
    }

    @Test func entriesAreWellFormed() {
        #expect(Set(KnownBugs.all.map(\.id)).count == KnownBugs.all.count, "duplicate ids")
        for bug in KnownBugs.all {
            #expect(!bug.eras.isEmpty && bug.eras.allSatisfy { Self.registry.contains($0) || Expectation.range($0) != nil },
                    "\(bug.id): eras \(bug.eras)")
            #expect(!bug.patterns.isEmpty, "\(bug.id)")
            for pat in bug.patterns {
                #expect(!pat.rules.isEmpty && !pat.rules.contains(.none) && !pat.kinds.isEmpty, "\(bug.id)")
            }
            #expect(!bug.fixedBy.isEmpty)
            #expect(bug.label.hasPrefix("\(bug.id) \(bug.name), linux-"), "\(bug.label)")
        }
    }

    /// The first-match rule must never decide: each corpus root cause matches at most
    /// one entry, and a corpus root cause that matches none is a finding to catalogue.
    @Test func corpusRootCausesMatchExactlyOneEntry() throws {
        for url in corpusFiles() {
            let prog = try Program(parsing: try String(contentsOf: url, encoding: .utf8), file: url.path)
            for s in Signature.of(prog, outcomes: checker.check(prog)) where s.rule != .none {
                let hits = KnownBugs.all.filter { $0.matches(s) }.map(\.id)
                #expect(hits.count == 1, "\(url.lastPathComponent): \(s.text) matches \(hits)")
            }
        }
    }

    /// `# root cause:` lines in corpus files say what the file shows today
    /// (`cowfuzz triage --annotate corpus` rewrites them).
    @Test func corpusFilesRecordTheirRootCauses() throws {
        for url in corpusFiles() {
            let text = try String(contentsOf: url, encoding: .utf8)
            let prog = try Program(parsing: text, file: url.path)
            let shown = Signature.of(prog, outcomes: checker.check(prog)).sorted { $0.key < $1.key }.map(\.text)
            #expect(RootCauseNote.recorded(in: text) == shown,
                    "\(url.lastPathComponent): run 'cowfuzz triage --annotate corpus'")
        }
    }

    @Test func annotateReplacesOnlyItsOwnLines() throws {
        let text = "# cowfuzz 1\n# a comment\n@expect linux-4.8 isolation\n\(cve2020_29374)\n"
        let prog = try Program(parsing: text)
        let sigs = Signature.of(prog, outcomes: checker.check(prog))
        #expect(!sigs.isEmpty)
        let once = RootCauseNote.annotate(text, signatures: sigs)
        #expect(RootCauseNote.recorded(in: once) == sigs.map(\.text))
        #expect(RootCauseNote.annotate(once, signatures: sigs) == once, "idempotent")
        #expect(RootCauseNote.annotate(once, signatures: []) == text, "removing restores the original")
        #expect(try Program(parsing: once).ops == prog.ops)
        #expect(once.contains("(B3a)"))
        // A CRLF file keeps CRLF endings, and its recorded causes read the same.
        let crlf = text.replacingOccurrences(of: "\n", with: "\r\n")
        let annotated = RootCauseNote.annotate(crlf, signatures: sigs)
        #expect(annotated == once.replacingOccurrences(of: "\n", with: "\r\n"))
        #expect(RootCauseNote.recorded(in: annotated) == sigs.map(\.text))
    }
}
