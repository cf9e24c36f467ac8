import CowModel
import Testing
import TestSupport

@Suite struct FormatTests {
    @Test func printThenParseIsIdentityOnPrograms() throws {
        var gen = RandomPrograms()
        gen.kinds = OpKind.allCases
        try withEvery("seed", in: 0..<3000 as Range<UInt64>) { seed in
            var p = gen.make(seed: seed, length: 1 + Int(seed % 40))
            p.expectations = [Expectation(policy: "linux-5.7", verdicts: VerdictSet([.isolation, .coherence])),
                              Expectation(policy: "linux-6.x", verdicts: .clean)]
            if seed % 3 == 0 { p.comments = [" a comment", "", " CVE-2020-29374"] }
            let parsed = try Program(parsing: p.text)
            #expect(parsed == p, "seed \(seed)")
        }
    }

    @Test func parseThenPrintIsIdentityOnCanonicalText() throws {
        var gen = RandomPrograms()
        gen.kinds = OpKind.allCases
        try withEvery("seed", in: 0..<1000 as Range<UInt64>) { seed in
            let text = gen.make(seed: seed, length: 30).text
            let reparsed = try Program(parsing: text)
            #expect(reparsed.text == text, "seed \(seed)")
        }
    }

    @Test func nonCanonicalSpacingAndCommentsNormalise() throws {
        let p = try Program(parsing: """
        # cowfuzz 1
        # leading comment
        mmap   p0 r0 pages=2   # trailing comment
        \twrite p0 r0[1] 7

        pin p0 r0[1] -> g3 rw longterm
        @expect linux-6.x clean
        """)
        #expect(p.text == """
        # cowfuzz 1
        # leading comment
        @expect linux-6.x clean
        mmap p0 r0 pages=2
        write p0 r0[1] 7
        pin p0 r0[1] -> g3 rw longterm

        """)
    }

    @Test func raceRoundTrips() throws {
        let text = "race p0: pokemem r0[0] 7 | p1: madvise r0 dontneed schedule=0,1,1,0"
        let p = try Program(parsing: text)
        guard case let .race(lanes, schedule) = p.ops[0] else { Issue.record("not a race"); return }
        #expect(lanes == [.pokemem(p: 0, r: 0, page: 0, value: 7), .madvise(p: 1, r: 0, advice: .dontneed, range: nil)])
        #expect(schedule == [0, 1, 1, 0])
        #expect(p.ops[0].text == text)
    }

    @Test(arguments: [
        ("mmap p0 r0", 1, 11, "expected 'pages=N'"),
        ("write p0 r0[0] 0", 1, 16, "expected a value from 1 to 255"),
        ("write p0 r0[0] 300", 1, 16, "expected a value from 1 to 255"),
        ("frob p0", 1, 1, "unknown op 'frob'"),
        ("pin p0 r0[0] g0", 1, 14, "expected '->'"),
        ("read q0 r0[0]", 1, 6, "expected a process name"),
        ("mmap p0 r0 pages=1\nmunmap p0 r0 from=0", 2, 20, "expected 'count=n'"),
        ("@expect linux-9.9 clean", 1, 9, "unknown policy 'linux-9.9'"),
        ("@expect linux-6.x dirty", 1, 19, "unknown verdict 'dirty'"),
        ("# cowfuzz 2\nksm", 1, 3, "unsupported format version 2"),
        ("pin p0 r0[0] -> g0 fast rw", 1, 25, "in that order"),
    ])
    func parseErrorsNamePositionAndExpectation(text: String, line: Int, column: Int, fragment: String) {
        do {
            _ = try Program(parsing: text, file: "t.cow")
            Issue.record("parsed: \(text)")
        } catch {
            #expect(error.file == "t.cow")
            #expect(error.line == line, "\(error)")
            #expect(error.column == column, "\(error)")
            #expect(error.message.contains(fragment), "\(error)")
            #expect(error.description.hasPrefix("t.cow:\(line):\(column): "))
        }
    }

    /// Issue 15 item 5: "\r\n" is one Character; a CRLF file parses as its LF twin.
    @Test func crlfLineEndingsParseLikeLF() throws {
        let lf = "# cowfuzz 1\n# a comment\n@expect linux-5.7 isolation\nmmap p0 r0 pages=1\nwrite p0 r0[0] 1\nread p0 r0[0]\n"
        let crlf = lf.replacingOccurrences(of: "\n", with: "\r\n")
        #expect(crlf.utf8.count == lf.utf8.count + 6)
        let a = try Program(parsing: lf, file: "lf.cow"), b = try Program(parsing: crlf, file: "crlf.cow")
        #expect(a == b)
        #expect(b.ops.count == 3 && b.comments == [" a comment"])
    }

    /// Issue 15 item 11: the header is compulsory in files and only ever on line 1.
    @Test(arguments: [
        ("", true, 1, 1, "expected the version header '# cowfuzz 1' on line 1"),
        ("mmap p0 r0 pages=1\n", true, 1, 1, "on line 1"),
        ("\n# cowfuzz 1\nksm\n", true, 1, 1, "on line 1"),
        ("# a comment\n# cowfuzz 1\nksm\n", true, 1, 1, "on line 1"),
        ("# a comment\n# cowfuzz 2\nksm\n", false, 2, 1, "a version header must be line 1"),
        ("# cowfuzz 1\n# cowfuzz 2\nksm\n", false, 2, 1, "must be line 1"),
        ("# cowfuzz one\nksm\n", false, 1, 1, "expected the version header"),
    ])
    func theHeaderIsEnforced(text: String, requireHeader: Bool, line: Int, column: Int, fragment: String) {
        do {
            _ = try Program(parsing: text, file: "h.cow", requireHeader: requireHeader)
            Issue.record("parsed: \(text)")
        } catch {
            #expect(error.line == line && error.column == column, "\(error)")
            #expect(error.message.contains(fragment), "\(error)")
        }
    }

    @Test func aFileWithTheHeaderAndCommentsThatMentionCowfuzzParses() throws {
        let p = try Program(parsing: "# cowfuzz 1\n# cowfuzz fuzz found this\nksm\n", requireHeader: true)
        #expect(p.comments == [" cowfuzz fuzz found this"] && p.ops == [.ksm])
    }

    /// Issue 15 item 10: a message repeats at most 40 characters of a token, escaped.
    @Test(arguments: [
        "write p0 r0[0] " + String(repeating: "9", count: 1 << 20),
        "frob\u{0}\u{1b}[2J" + String(repeating: "x", count: 100),
        "mmap p0 r0 pages=1 \u{7}bell\u{200b}",
    ])
    func errorMessagesAreShortPrintableLines(text: String) {
        do {
            _ = try Program(parsing: "# cowfuzz 1\n" + text, file: "t.cow")
            Issue.record("parsed")
        } catch {
            let d = error.description
            #expect(d.count < 300, "\(d.count) characters")
            #expect(!d.unicodeScalars.contains { $0.value < 0x20 || $0.value == 0x7f || $0.value == 0x200b }, "\(d)")
        }
    }

    @Test func quotingCutsAndEscapes() {
        #expect(CowFormat.quote("abc") == "'abc'")
        #expect(CowFormat.quote("a\u{0}b\u{1b}") == "'a\\0b\\x1b'")
        #expect(CowFormat.quote(String(repeating: "z", count: 50)) == "'" + String(repeating: "z", count: 40) + "'… (50 characters)")
    }

    /// Found by the parser self-fuzz: a comment ending in a carriage return printed
    /// "#…\r\n", which read back without it.
    @Test func aCommentWithACarriageReturnRoundTrips() throws {
        let p = try Program(parsing: "# cowfuzz 1\n# note\r\r\n# mid\rline\nksm\n")
        #expect(try Program(parsing: p.text) == p)
        #expect(p.comments == [" note", " midline"])
        // Found by bench --parser: "# cowfuzz\r 1" is a comment that would print as a header.
        #expect(throws: ParseError.self) { try Program(parsing: "# cowfuzz 1\n# cowfuzz\r 1\nksm\n") }
    }
}
