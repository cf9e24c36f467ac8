import Foundation
import Testing
import TestSupport

/// The command line as a user meets it: exit statuses and one-line errors.
@Suite struct CLITests {
    @Test func replayOfTheCorpusMeetsEveryExpectation() throws {
        let r = try runCowfuzz(["replay", packageRoot.appendingPathComponent("corpus").path])
        #expect(r.status == 0, "\(r.out)\(r.err)")
        #expect(r.out.contains("cve-2020-29374-vmsplice-unmap-child.cow"))
        #expect(r.out.contains("0 with a failed expectation"))
    }

    /// Explain tells Dirty COW on the zero page as it happened (issue 14 item 8): the
    /// first FOLL_FORCE fault is a write fault, the zero page shows the value stored into
    /// it, and the finding names the observer's own store rather than "another process".
    @Test func explainTellsDirtyCowOnTheZeroPageAsItHappened() throws {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let f = dir.appendingPathComponent("dirty-cow-zero.cow")
        try """
        # cowfuzz 1
        mmap p0 r0 pages=1
        mprotect p0 r0 ro
        race p0: pokemem r0[0] 7 | p0: madvise r0 dontneed schedule=0,1
        mmap p0 r1 pages=1
        read p0 r1[0]

        """.write(to: f, atomically: true, encoding: .utf8)
        let r = try runCowfuzz(["explain", "--policies", "linux-4.8", f.path])
        #expect(r.out.contains("follow found no usable entry → write fault; FOLL_WRITE dropped"), "\(r.out)")
        #expect(r.out.contains("Z ro v7 (the zero page was written!)"), "\(r.out)")
        #expect(r.out.contains("p0's own store of op #2 (pokemem p0 r0[0] 7), made into another page"), "\(r.out)")
        let cve = try runCowfuzz(["explain", "--policies", "linux-5.7",
                                  packageRoot.appendingPathComponent("corpus/cve-2020-29374-vmsplice-unmap-child.cow").path])
        #expect(cve.out.contains("p0's store of op #5 (write p0 r0[0] 2) that reached it"), "\(cve.out)")
    }

    @Test func aParseErrorIsOneLineNamingFileLineAndColumnWithStatus2() throws {
        let dir = try temporaryDirectory()
        let f = dir.appendingPathComponent("bad.cow")
        try "# cowfuzz 1\nmmap p0 r0 pages=1\nwrite p0 r0[0] 300\n".write(to: f, atomically: true, encoding: .utf8)
        let r = try runCowfuzz(["replay", f.path])
        #expect(r.status == 2)
        let lines = r.err.split(separator: "\n")
        #expect(lines.count == 1, "\(r.err)")
        #expect(r.err.contains("bad.cow:3:16: expected a value from 1 to 255"), "\(r.err)")
    }

    @Test func aFailedExpectationExitsWith1() throws {
        let dir = try temporaryDirectory()
        let f = dir.appendingPathComponent("wrong.cow")
        try """
        # cowfuzz 1
        @expect linux-5.7 clean
        \(cve2020_29374)
        """.write(to: f, atomically: true, encoding: .utf8)
        let r = try runCowfuzz(["replay", f.path])
        #expect(r.status == 1)
        #expect(r.out.contains("FAIL") && r.out.contains("expected clean, got isolation"), "\(r.out)")
    }

    @Test(arguments: [
        ["frobnicate"],
        ["replay"],
        ["replay", "/nonexistent/x.cow"],
        ["replay", "corpus", "--policies", "linux-9.9"],
        ["replay", "corpus", "--bogus"],
        ["explain"],
    ])
    func badUsageExitsWith2AndOneLine(args: [String]) throws {
        let r = try runCowfuzz(args, cwd: packageRoot)
        #expect(r.status == 2, "\(args): \(r.status) \(r.err)")
        #expect(r.err.split(separator: "\n").count == 1, "\(args): \(r.err)")
    }

    @Test func explainShowsTheMechanism() throws {
        let r = try runCowfuzz(["explain", packageRoot.appendingPathComponent("corpus/cve-2020-29374-vmsplice-unmap-child.cow").path,
                                "--policies", "linux-5.7,linux-5.9"])
        #expect(r.status == 0)
        #expect(r.out.contains("REUSE f1"))
        #expect(r.out.contains("COPY f1→f2"))
        #expect(r.out.contains("isolation (as expected)"))
    }

    @Test func policiesListsEveryEra() throws {
        let r = try runCowfuzz(["policies"])
        #expect(r.status == 0)
        for name in ["linux-4.8", "linux-5.7", "linux-5.8", "linux-5.9", "linux-5.18", "linux-5.19", "linux-6.x"] {
            #expect(r.out.contains(name))
        }
    }
}

/// Output paths are checked before the first program runs (issue 15 item 7).
@Suite struct OutputPathTests {
    @Test(arguments: ["--report", "--junit", "--summary", "--crashes"])
    func aBadOutputPathFailsBeforeTheCampaignNamingThePathGiven(option: String) throws {
        let dir = try temporaryDirectory()
        let file = dir.appendingPathComponent("plain")
        try "x".write(to: file, atomically: true, encoding: .utf8)
        let bad = file.path + "/out"
        let r = try runCowfuzz(["fuzz", "--runs", "200", "--jobs", "1", "--corpus", packageRoot.appendingPathComponent("corpus").path,
                                option, bad], cwd: dir)
        #expect(r.status == 2, "\(r.status) \(r.out) \(r.err)")
        #expect(r.out.isEmpty, "the campaign ran: \(r.out)")
        #expect(r.err.contains(bad) && !r.err.contains(".tmp."), "\(r.err)")
    }

    @Test func exportAndShrinkRefuseADirectoryOutput() throws {
        let dir = try temporaryDirectory()
        let f = dir.appendingPathComponent("p.cow")
        try "# cowfuzz 1\n\(cve2020_29374)\n".write(to: f, atomically: true, encoding: .utf8)
        for cmd in ["shrink", "export-c", "decode"] {
            let r = try runCowfuzz([cmd, f.path, "-o", dir.path])
            #expect(r.status == 2, "\(cmd): \(r.status) \(r.err)")
            #expect(r.err.contains("directory"), "\(cmd): \(r.err)")
        }
    }
}

/// Files that do not parse are never skipped silently (issue 15 item 5).
@Suite struct SkippedFileTests {
    func storeWithABadFile() throws -> URL {
        let dir = try temporaryDirectory()
        try "# cowfuzz 1\n\(cve2020_29374)\n".write(to: dir.appendingPathComponent("good.cow"), atomically: true, encoding: .utf8)
        try "# cowfuzz 1\nwrite p0 r0[0] 300\n".write(to: dir.appendingPathComponent("bad.cow"), atomically: true, encoding: .utf8)
        return dir
    }

    @Test func corpusCommandsWarnOncePerSkippedFileAndStrictRefuses() throws {
        let dir = try storeWithABadFile()
        let out = try temporaryDirectory().appendingPathComponent("merged").path
        for args in [["corpus", "minimize", dir.path, "--dry-run"], ["corpus", "merge", dir.path, "-o", out]] {
            let r = try runCowfuzz(args)
            #expect(r.status == 0, "\(args): \(r.err)")
            let warnings = r.err.split(separator: "\n").filter { $0.contains("warning: skipping") }
            #expect(warnings.count == 1 && warnings[0].contains("bad.cow:2:16"), "\(args): \(r.err)")
            let strict = try runCowfuzz(args + ["--strict"])
            #expect(strict.status == 2 && strict.err.contains("bad.cow:2:16"), "\(args): \(strict.err)")
        }
    }

    @Test func fuzzWarnsCountsInTheReportAndStrictRefuses() throws {
        let dir = try storeWithABadFile()
        let work = try temporaryDirectory()
        let report = work.appendingPathComponent("r.json").path
        let args = ["fuzz", "--runs", "50", "--jobs", "1", "--corpus", dir.path, "--crashes", work.appendingPathComponent("c").path]
        let r = try runCowfuzz(args + ["--report", report])
        #expect(r.status == 0 || r.status == 1, "\(r.err)")
        #expect(r.err.contains("warning: skipping") && r.err.contains("bad.cow:2:16"), "\(r.err)")
        #expect(r.out.contains("1 file(s) of the corpus or crashes directories skipped"), "\(r.out)")
        let json = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: report))) as? [String: Any]
        #expect((json?["skippedFiles"] as? [String])?.count == 1)
        let strict = try runCowfuzz(args + ["--strict"])
        #expect(strict.status == 2 && strict.out.isEmpty, "\(strict.out) \(strict.err)")
    }
}

/// Options: empty lists, repeats, `--opt=value`, ranges, options that cannot apply
/// (issue 15 items 6 and 12).
@Suite struct OptionValidationTests {
    @Test(arguments: [
        (["replay", "corpus", "--policies", ""], "--policies needs a value"),
        (["replay", "corpus", "--policies="], "--policies needs a value"),
        (["replay", "corpus", "--policies", "linux-5.7,"], "without empty items"),
        (["explain", "corpus/cve-2020-29374-vmsplice-unmap-child.cow", "--policy", ""], "--policy needs a value"),
        (["fuzz", "--ops", ""], "--ops needs a value"),
        (["fuzz", "--ops", "read,,write"], "without empty items"),
        (["fuzz", "--diff", "linux-5.7,linux-5.8,"], "--diff expects two"),
        (["enumerate", "--depth", "1", "--advice", ""], "--advice needs a value"),
        (["enumerate", "--depth", "1", "--ops", "read,"], "without empty items"),
        (["fuzz", "--ops", "mmap,write,fork"], "no observing op"),
        (["fuzz", "--max-ops", "0"], "from 1 to 1000"),
        (["fuzz", "--real-tiers", "ksm"], "--real-tiers needs --backend real"),
        (["replay", "corpus", "--real-tiers", "ksm"], "--real-tiers needs --backend real"),
        (["fuzz", "--backend", "real", "--diff", "linux-5.7,linux-5.8"], "--diff compares two model policies"),
        (["fuzz", "--backend", "real", "--policies", "linux-5.7"], "--policies does not apply to --backend real"),
        (["fuzz", "--backend", "real", "--jobs", "2"], "runs one program at a time"),
        (["fuzz", "--backings", "anon,shmem"], "unknown backing 'shmem'"),
        (["fuzz", "--seed", "1", "--seed", "2"], "--seed given twice"),
        (["fuzz", "--seed=1", "--seed", "2"], "--seed given twice"),
        (["replay", "corpus", "--json", "--json"], "--json given twice"),
        (["replay", "corpus", "--json=yes"], "--json takes no value"),
    ])
    func rejectedWithStatus2AndTheReason(argv: [String], fragment: String) throws {
        // From a scratch directory: a regression that runs a campaign writes nothing here.
        let abs = argv.map { $0.hasPrefix("corpus") ? packageRoot.appendingPathComponent($0).path : $0 }
        let r = try runCowfuzz(abs + (argv[0] == "fuzz" ? ["--runs", "1", "--corpus", packageRoot.appendingPathComponent("corpus").path] : []),
                               cwd: try temporaryDirectory())
        #expect(r.status == 2, "\(argv): \(r.status) \(r.err)")
        #expect(r.err.split(separator: "\n").count == 1 && r.err.contains(fragment), "\(argv): \(r.err)")
    }

    @Test func equalsFormIsAccepted() throws {
        let work = try temporaryDirectory()
        let r = try runCowfuzz(["fuzz", "--runs=30", "--seed=5", "--jobs=1", "--max-ops=8", "--corpus=" + packageRoot.appendingPathComponent("corpus").path,
                                "--crashes=" + work.appendingPathComponent("c").path, "--quiet"], cwd: work)
        #expect(r.status == 0 || r.status == 1, "\(r.err)")
        #expect(r.out.hasPrefix("30 programs"), "\(r.out)")
    }
}

/// Issue 15 item 11: a file without the header is not a program.
@Suite struct HeaderTests {
    @Test(arguments: ["", "mmap p0 r0 pages=1\nread p0 r0[0]\n", "# x\n# cowfuzz 2\nksm\n"])
    func replayRejectsAFileWithoutTheHeaderOnLine1(text: String) throws {
        let f = try temporaryDirectory().appendingPathComponent("h.cow")
        try text.write(to: f, atomically: true, encoding: .utf8)
        let r = try runCowfuzz(["replay", f.path])
        #expect(r.status == 2 && r.err.contains("h.cow:"), "\(r.status) \(r.err)")
    }
}

/// Issue 15 items 12 and 9: errors that say what is wrong, and a file-size limit.
@Suite struct InputFileTests {
    @Test func invalidUTF8NamesLineAndColumn() throws {
        let f = try temporaryDirectory().appendingPathComponent("u.cow")
        var bytes = Array("# cowfuzz 1\nmmap p0 r0 pages=1\nwrite p0 r0[0] ".utf8)
        bytes += [0xFF, 0x0A]
        try Data(bytes).write(to: f)
        let r = try runCowfuzz(["replay", f.path])
        #expect(r.status == 2 && r.err.contains("u.cow:3:16: not UTF-8"), "\(r.err)")
    }

    @Test func aSymlinkLoopIsNamed() throws {
        let dir = try temporaryDirectory()
        let a = dir.appendingPathComponent("a.cow").path, b = dir.appendingPathComponent("b.cow").path
        try FileManager.default.createSymbolicLink(atPath: a, withDestinationPath: b)
        try FileManager.default.createSymbolicLink(atPath: b, withDestinationPath: a)
        for cmd in [["replay", a], ["explain", a], ["shrink", a]] {
            let r = try runCowfuzz(cmd)
            #expect(r.status == 2 && r.err.contains("symlink loop"), "\(cmd): \(r.err)")
        }
    }

    @Test func maxFileSizeLimitsEveryFileWithAClearError() throws {
        let dir = try temporaryDirectory()
        let f = dir.appendingPathComponent("big.cow")
        let body = "# cowfuzz 1\nmmap p0 r0 pages=1\n" + String(repeating: "read p0 r0[0]\n", count: 150)
        try body.write(to: f, atomically: true, encoding: .utf8)
        let small = try runCowfuzz(["replay", f.path, "--max-file-size", "1K"])
        #expect(small.status == 2 && small.err.contains("more than the limit of 1024 bytes"), "\(small.err)")
        let ok = try runCowfuzz(["replay", "--max-file-size=1M", f.path])
        #expect(ok.status == 0, "\(ok.err)")
        let bad = try runCowfuzz(["replay", f.path, "--max-file-size", "0"])
        #expect(bad.status == 2 && bad.err.contains("--max-file-size expects"), "\(bad.err)")
        // The default is 16 MiB.
        let huge = dir.appendingPathComponent("huge.cow")
        FileManager.default.createFile(atPath: huge.path, contents: Data("# cowfuzz 1\n".utf8) + Data(repeating: 0x0A, count: 16 << 20))
        let r = try runCowfuzz(["replay", huge.path])
        #expect(r.status == 2 && r.err.contains("more than the limit of 16777216 bytes"), "\(r.err)")
    }
}

/// Issue 13 item 7: the code uses InlineArray and SendableMetatype (Swift 6.2).
@Suite struct ManifestTests {
    @Test func theManifestDeclaresTheToolsVersionTheCodeNeeds() throws {
        let text = try String(contentsOf: packageRoot.appendingPathComponent("Package.swift"), encoding: .utf8)
        #expect(text.hasPrefix("// swift-tools-version: 6.2\n"))
    }
}

/// Issue 13 item 5: commands answer --help from their declarations, and the README's
/// command reference is the declarations' synopsis.
@Suite struct HelpTests {
    static let commands = ["fuzz", "replay", "explain", "shrink", "compare", "enumerate", "export-c", "decode", "corpus",
                           "bench", "triage", "policies", "matrix"]

    @Test(arguments: commands)
    func everyCommandAnswersHelp(command: String) throws {
        let r = try runCowfuzz([command, "--help"])
        #expect(r.status == 0 && r.err.isEmpty, "\(command): \(r.status) \(r.err)")
        #expect(r.out.hasPrefix("cowfuzz \(command)"), "\(command): \(r.out)")
        let h = try runCowfuzz(["help", command])
        #expect(h.status == 0 && h.out == r.out, "\(command)")
    }

    @Test func everyDeclaredOptionIsAcceptedByTheParser() throws {
        // An option the help lists is never 'unknown': the parser reads the same declaration.
        let r = try runCowfuzz(["replay", "--verbose", "--json", "--policies", "linux-5.7",
                                packageRoot.appendingPathComponent("corpus/cve-2020-29374-vmsplice-unmap-child.cow").path])
        #expect(r.status == 0, "\(r.err)")
        let help = try runCowfuzz(["help", "enumerate"]).out
        for o in ["--procs", "--regions", "--pages", "--pins", "--pipes", "--backings", "--pin-flags", "--advice", "--ranges", "--reuse-values", "--fork-empty"] {
            #expect(help.contains(o), "\(o)")
        }
    }

    @Test func versionAndUnknownHelp() throws {
        let v = try runCowfuzz(["--version"])
        #expect(v.status == 0 && v.out.hasPrefix("cowfuzz ") && v.out.contains(".cow format 1"))
        let u = try runCowfuzz(["help", "frob"])
        #expect(u.status == 2)
    }

    @Test func theReadmeCommandReferenceIsTheDeclaredSynopsis() throws {
        let usage = try runCowfuzz(["help"]).out
        let synopsis = usage.components(separatedBy: "usage:\n")[1].components(separatedBy: "\n\n")[0]
        let readme = try String(contentsOf: packageRoot.appendingPathComponent("README.md"), encoding: .utf8)
        let section = try #require(readme.components(separatedBy: "## Command reference\n").dropFirst().first)
        let block = section.components(separatedBy: "```\n")[1]
        #expect(block == synopsis + "\n", "README.md's command reference differs from 'cowfuzz help'; paste:\n\(synopsis)")
    }

}

/// Findings are never lost or replaced by larger ones when runs share a directory.
@Suite struct SharedCrashDirectoryTests {
    /// Two campaigns writing into one `--crashes` directory at the same time (issue 15
    /// item 8): each signature's file is the smaller of the two runs' reproducers, every
    /// `.cow` has its sidecar, and each report points at a file that exists, saying
    /// `keptExisting` exactly where the other run's smaller reproducer stood there.
    @Test func twoConcurrentRunsSharingACrashDirectoryKeepTheSmallerReproducers() throws {
        let root = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: root) }
        func args(_ seed: Int, _ dir: String, _ report: String) -> [String] {
            ["fuzz", "--seed", "\(seed)", "--runs", "1500", "--crashes", root.appendingPathComponent(dir).path,
             "--report", root.appendingPathComponent(report).path, "--quiet"]
        }
        func ops(_ dir: String) throws -> [String: Int] {
            let d = root.appendingPathComponent(dir)
            var out: [String: Int] = [:]
            for name in try FileManager.default.contentsOfDirectory(atPath: d.path) where name.hasSuffix(".json") {
                let j = try JSONSerialization.jsonObject(with: Data(contentsOf: d.appendingPathComponent(name))) as! [String: Any]
                out[String(name.dropLast(5))] = j["ops"] as? Int
            }
            return out
        }
        // Alone, each run's reproducers.
        for (seed, dir) in [(3, "a"), (4, "b")] {
            // In the temporary directory: no corpus/ to seed from, so only these runs' findings.
            #expect(try runCowfuzz(args(seed, dir, dir + ".json"), cwd: root).status == 1, "1: new findings")
        }
        let a = try ops("a"), b = try ops("b")
        #expect(!Set(a.keys).intersection(b.keys).isEmpty, "the two seeds share a signature")
        // Together, at the same time.
        let procs = try [(3, "r3.json"), (4, "r4.json")].map { seed, report in
            let p = Process()
            p.executableURL = cowfuzzBinary()
            p.arguments = args(seed, "shared", report)
            p.currentDirectoryURL = root
            p.standardOutput = FileHandle.nullDevice
            p.standardError = FileHandle.nullDevice
            try p.run()
            return p
        }
        for p in procs { p.waitUntilExit(); #expect(p.terminationStatus == 1) }
        let shared = try ops("shared")
        #expect(Set(shared.keys) == Set(a.keys).union(b.keys))
        for (stem, n) in shared {
            #expect(n == min(a[stem] ?? .max, b[stem] ?? .max), "\(stem)")
            #expect(FileManager.default.fileExists(atPath: root.appendingPathComponent("shared/\(stem).cow").path))
        }
        let names = try FileManager.default.contentsOfDirectory(atPath: root.appendingPathComponent("shared").path)
        #expect(names.allSatisfy { $0.hasSuffix(".cow") || $0.hasSuffix(".json") || $0 == ".lock" }, "\(names)")
        for (report, mine) in [("r3.json", a), ("r4.json", b)] {
            let j = try JSONSerialization.jsonObject(with: Data(contentsOf: root.appendingPathComponent(report))) as! [String: Any]
            for f in j["findings"] as! [[String: Any]] {
                let path = f["path"] as! String
                let stem = String(URL(fileURLWithPath: path).lastPathComponent.dropLast(4))
                #expect(FileManager.default.fileExists(atPath: path))
                let kept = f["keptExisting"] as? Bool ?? false
                // Kept another's: it stood there no larger. Wrote its own: what stands is its size or smaller.
                let stands = try #require(shared[stem], "\(stem) in the shared directory")
                let own = try #require(mine[stem], "\(stem) found alone too")
                #expect(stands <= own)
                if !kept { #expect(f["ops"] as? Int == own) }
            }
        }
    }
}

/// `cowfuzz matrix` (issue 16 item 5) as a user meets it: the table, JSON, `--emit` files
/// that replay to their cells, filters and usage errors.
@Suite struct MatrixCLITests {
    @Test func theTableHasARowPerCellAndAColumnPerPolicy() throws {
        let r = try runCowfuzz(["matrix"])
        #expect(r.status == 0 && r.err.isEmpty, "\(r.err)")
        let lines = r.out.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        let header = try #require(lines.first)
        #expect(header.split(separator: " ").map(String.init) == ["scenario", "case", "linux-4.8", "linux-5.7", "linux-5.8", "linux-5.9",
                                                                 "linux-5.18", "linux-5.19", "linux-6.x"], "\(header)")
        let rows = lines.dropFirst().prefix { !$0.isEmpty }
        #expect(rows.count == 160)
        #expect(r.out.contains("160 cell(s): 8 scenario(s) × 20 case(s)"))
        // A scenario's name stands on its first row only.
        #expect(rows.first?.hasPrefix("base ") == true && rows.filter { !$0.hasPrefix(" ") }.count == 8)
        let cve = try #require(rows.first { $0.contains(" vmsplice-child-unmap ") })
        #expect(cve.split(separator: " ").map(String.init) == ["vmsplice-child-unmap", "FAIL(isolation)", "FAIL(isolation)",
                                                              "pass", "pass", "pass", "pass", "pass"], "\(cve)")
    }

    @Test func jsonAndFiltersSelectCells() throws {
        let r = try runCowfuzz(["matrix", "--scenarios", "hugetlb,base", "--cases", "vmsplice-before-fork", "--policies", "linux-5.8,linux-6.x", "--json"])
        #expect(r.status == 0, "\(r.err)")
        let doc = try #require(try JSONSerialization.jsonObject(with: Data(r.out.utf8)) as? [String: Any])
        #expect(doc["formatVersion"] as? Int == 1 && doc["backend"] as? String == "model")
        let rows = try #require(doc["rows"] as? [[String: Any]])
        #expect(rows.map { $0["scenario"] as? String } == ["base", "hugetlb"])
        func cell(_ row: Int, _ p: String) -> [String: Any]? { (rows[row]["cells"] as? [String: Any])?[p] as? [String: Any] }
        #expect(cell(0, "linux-5.8")?["result"] as? String == "fail" && cell(0, "linux-5.8")?["verdicts"] as? [String] == ["isolation"])
        #expect(cell(0, "linux-6.x")?["result"] as? String == "pass" && cell(0, "real") == nil)
        #expect(cell(1, "linux-6.x")?["text"] as? String == "FAIL(isolation)")
        #expect((rows[0]["program"] as? String)?.hasPrefix("# cowfuzz 1\n") == true)
    }

    @Test func everyEmittedCellReplaysToItsCell() throws {
        let dir = try temporaryDirectory().appendingPathComponent("cells")
        let r = try runCowfuzz(["matrix", "--emit", dir.path])
        #expect(r.status == 0, "\(r.err)")
        let files = try FileManager.default.contentsOfDirectory(atPath: dir.path).filter { $0.hasSuffix(".cow") }
        #expect(files.count == 160)
        let cve = try String(contentsOf: dir.appendingPathComponent("base.vmsplice-child-unmap.cow"), encoding: .utf8)
        #expect(cve.contains("@expect * clean\n@expect linux-4.8..linux-5.7 isolation\n"), "\(cve)")
        #expect(cve.contains("vmsplice p1 r0[0] -> pipe0\nmunmap p1 r0\nwrite p0 r0[0] 2\nreadpipe pipe0\n"), "\(cve)")
        // replay checks every @expect line: each file's verdicts are its cell's.
        let replay = try runCowfuzz(["replay", dir.path])
        #expect(replay.status == 0 && replay.out.contains("160 program(s), 0 with a failed expectation"), "\(replay.out)")
    }

    @Test(arguments: [
        (["matrix", "--scenarios", "nonesuch"], "unknown scenario 'nonesuch'"),
        (["matrix", "--cases", "fork-parent-writes,"], "without empty items"),
        (["matrix", "--backend", "kernel"], "--backend expects model, real or both"),
        (["matrix", "--real-tiers", "swap"], "--real-tiers needs --backend real or both"),
        (["matrix", "--backend", "real", "--policies", "linux-6.x"], "--policies needs --backend model or both"),
        (["matrix", "extra"], "unexpected argument 'extra'"),
    ])
    func badUsageIsOneLineWithStatus2(argv: [String], fragment: String) throws {
        let r = try runCowfuzz(argv)
        #expect(r.status == 2 && r.out.isEmpty, "\(argv): \(r.status) \(r.out)")
        #expect(r.err.split(separator: "\n").count == 1 && r.err.contains(fragment), "\(argv): \(r.err)")
    }
}
