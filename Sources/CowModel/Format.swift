/// The `.cow` text format: parsing and canonical printing.
///
/// One op per line, `#` starts a comment, directives start with `@`. See design.md.
/// `print(parse(t)) == t` for canonical text and `parse(print(p)) == p` for programs.
public enum CowFormat {
    public static let version = 1
    public static let header = "# cowfuzz 1"

    /// The lines of a text, without their `\n` or `\r\n` ("\r\n" is one Character in
    /// Swift, so a split on "\n" alone never fires in a CRLF file), and whether it uses
    /// CRLF (so a tool that rewrites lines can keep the file's endings).
    public static func lines(_ text: String) -> (lines: [Substring], crlf: Bool) {
        var crlf = false
        let lines = text.split(omittingEmptySubsequences: false, whereSeparator: { c in
            if c == "\r\n" { crlf = true; return true }
            return c == "\n"
        })
        return (lines, crlf)
    }

    /// The longest part of a token an error message repeats.
    public static let quotedLength = 40

    /// A token as an error message shows it: in quotes, cut to `quotedLength`
    /// characters, control and other invisible characters escaped (`\0`, `\x1b`,
    /// `\u{200b}`), so a message stays one short printable line whatever the input.
    public static func quote(_ s: some StringProtocol) -> String {
        var out = "'"
        var n = 0
        var cut = false
        for ch in s {
            if n == quotedLength { cut = true; break }
            n += 1
            out += escaped(ch)
        }
        out += "'"
        if cut { out += "… (\(s.count) characters)" }
        return out
    }

    /// Escapes every control, format or unassigned scalar of `s` (used on whole messages).
    public static func printable(_ s: some StringProtocol) -> String {
        var out = ""
        for ch in s { out += escaped(ch) }
        return out
    }

    static func escaped(_ ch: Character) -> String {
        var out = ""
        for u in ch.unicodeScalars {
            switch u.properties.generalCategory {
            case .control, .format, .unassigned, .surrogate, .privateUse, .lineSeparator, .paragraphSeparator:
                if u.value == 0 { out += "\\0" } else if u.value < 0x100 {
                    out += "\\x" + (u.value < 0x10 ? "0" : "") + String(u.value, radix: 16)
                } else { out += "\\u{" + String(u.value, radix: 16) + "}" }
            default:
                out.unicodeScalars.append(u)
            }
        }
        return out
    }
}

/// A parse error with its position and what was expected there.
public struct ParseError: Error, Hashable, Sendable, CustomStringConvertible {
    public var file: String
    public var line: Int
    public var column: Int
    public var message: String

    public init(file: String, line: Int, column: Int, message: String) {
        self.file = file
        self.line = line
        self.column = column
        self.message = message
    }

    /// One printable line: control bytes in the file name or message are escaped.
    public var description: String { CowFormat.printable("\(file):\(line):\(column): \(message)") }
}

// MARK: - Printing

extension Program {
    /// Canonical text: the version header, leading comments, directives, then ops.
    public var text: String {
        var out = CowFormat.header + "\n"
        for c in comments { out += c.isEmpty ? "#\n" : "#\(c)\n" }
        if let o = thpOrder { out += "@thp-order \(o)\n" }
        for e in expectations { out += "@expect \(e.policy) \(e.verdicts.text)\n" }
        for op in ops { out += op.text + "\n" }
        return out
    }
}

extension Op {
    /// The op as one canonical line.
    public var text: String {
        switch self {
        case let .mmap(p, r, pages, backing, huge):
            var s = "mmap \(pn(p)) \(rn(r)) pages=\(pages)"
            if backing != .anon { s += " \(backing == .shared ? "shared" : "file")" }
            if huge != .none { s += " \(huge == .thp ? "thp" : "hugetlb")" }
            return s
        case let .munmap(p, r, range):
            return "munmap \(pn(p)) \(rn(r))" + rangeText(range)
        case let .mprotect(p, r, w, range):
            return "mprotect \(pn(p)) \(rn(r)) \(w ? "rw" : "ro")" + rangeText(range)
        case let .mremap(p, r, to, range):
            return "mremap \(pn(p)) \(rn(r)) -> \(rn(to))" + rangeText(range)
        case let .madvise(p, r, advice, range):
            return "madvise \(pn(p)) \(rn(r)) \(advice.name)" + rangeText(range)
        case let .write(p, r, i, v):
            return "write \(pn(p)) \(rn(r))[\(i)] \(v)"
        case let .read(p, r, i):
            return "read \(pn(p)) \(rn(r))[\(i)]"
        case let .fork(p, c):
            return "fork \(pn(p)) -> \(pn(c))"
        case let .exit(p):
            return "exit \(pn(p))"
        case let .pin(p, r, i, g, flags):
            var s = "pin \(pn(p)) \(rn(r))[\(i)] -> g\(g)"
            for (f, w) in PinFlags.words where flags.contains(f) { s += " " + w }
            return s
        case let .unpin(g):
            return "unpin g\(g)"
        case let .readpin(g):
            return "readpin g\(g)"
        case let .writepin(g, v):
            return "writepin g\(g) \(v)"
        case let .vmsplice(p, r, i, pipe):
            return "vmsplice \(pn(p)) \(rn(r))[\(i)] -> pipe\(pipe)"
        case let .readpipe(pipe):
            return "readpipe pipe\(pipe)"
        case let .pokemem(p, r, i, v):
            return "pokemem \(pn(p)) \(rn(r))[\(i)] \(v)"
        case .ksm:
            return "ksm"
        case let .migrate(p, r, i):
            return "migrate \(pn(p)) \(rn(r))[\(i)]"
        case let .swapout(p, r, i):
            return "swapout \(pn(p)) \(rn(r))[\(i)]"
        case let .splitpmd(p, r, i):
            return "splitpmd \(pn(p)) \(rn(r))[\(i)]"
        case let .splitthp(p, r, i):
            return "splitthp \(pn(p)) \(rn(r))[\(i)]"
        case let .race(lanes, schedule):
            let l = lanes.map { lane -> String in
                guard let p = lane.process else { return lane.text }
                // "p1: madvise r0 dontneed": the lane's process first, then the op without it.
                let t = lane.text
                let words = t.split(separator: " ", maxSplits: 2, omittingEmptySubsequences: false)
                let rest = words.count > 2 ? " " + words[2] : ""
                return "\(pn(p)): \(words[0])\(rest)"
            }
            return "race " + l.joined(separator: " | ") + " schedule=" + schedule.map(String.init).joined(separator: ",")
        }
    }
}

@inline(__always) private func pn(_ p: Int) -> String { "p\(p)" }
@inline(__always) private func rn(_ r: Int) -> String { "r\(r)" }
private func rangeText(_ range: PageRange?) -> String {
    guard let r = range else { return "" }
    return " from=\(r.from) count=\(r.count)"
}

// MARK: - Parsing

extension Program {
    /// Parses `.cow` text. `file` names the source in error messages.
    ///
    /// A version header `# cowfuzz N` is only ever accepted on line 1 (on a later line it
    /// is an error, never a comment). `requireHeader` (every reader of a file passes it)
    /// makes it compulsory, so an empty file or one without it is rejected; text built
    /// in code may leave it out.
    public init(parsing text: String, file: String = "<input>", requireHeader: Bool = false) throws(ParseError) {
        var p = Parser(file: file)
        p.requireHeader = requireHeader
        self = try p.parse(text)
    }
}

/// Policy names that `@expect` accepts, registered by the policy registry and `real`.
public enum KnownPolicyNames {
    public static let all: [String] = PolicyRegistry.all.map(\.name) + ["real"]
}

private struct Token {
    var text: Substring
    var column: Int
}

private struct Parser {
    let file: String
    var line = 0
    var requireHeader = false

    init(file: String) { self.file = file }

    func fail(_ column: Int, _ message: String) -> ParseError {
        ParseError(file: file, line: line, column: column, message: message)
    }

    mutating func parse(_ text: String) throws(ParseError) -> Program {
        var program = Program(ops: [])
        var seenContent = false
        var sawHeader = false
        for raw in CowFormat.lines(text).lines {
            line += 1
            let lineText = raw.hasSuffix("\r") ? raw.dropLast() : raw
            let trimmed = lineText.drop(while: { $0 == " " || $0 == "\t" })
            if line == 1 && requireHeader && !trimmed.hasPrefix("#") {
                throw fail(1, "expected the version header '\(CowFormat.header)' on line 1")
            }
            if trimmed.isEmpty { continue }
            if trimmed.hasPrefix("#") {
                // A carriage return inside a comment cannot survive printing (a trailing
                // one would read back as a CRLF line end): comments keep none, and the
                // header checks below see the comment as it will be printed.
                let body = Substring(trimmed.dropFirst().filter { $0 != "\r" })
                let words = body.split(separator: " ")
                let looksLikeHeader = words.count == 2 && words[0] == "cowfuzz" && Int(words[1]) != nil
                if line == 1 && (words.first == "cowfuzz" || requireHeader) {
                    guard words.count == 2, words[0] == "cowfuzz", let v = Int(words[1]) else {
                        throw fail(1, "expected the version header '\(CowFormat.header)' on line 1")
                    }
                    guard v == CowFormat.version else {
                        throw fail(3, "unsupported format version \(v) (this cowfuzz reads version \(CowFormat.version))")
                    }
                    sawHeader = true
                    continue
                }
                if looksLikeHeader {
                    throw fail(1, "a version header must be line 1" + (sawHeader ? " (this file has one there already)" : ""))
                }
                if !seenContent { program.comments.append(String(body)) }
                continue
            }
            seenContent = true
            // Strip a trailing comment.
            let code = trimmed.firstIndex(of: "#").map { trimmed[..<$0] } ?? trimmed
            let base = lineText.count - trimmed.count
            let tokens = tokenize(code, base: base)
            guard let first = tokens.first else { continue }
            if first.text.hasPrefix("@") {
                try directive(tokens, into: &program)
            } else {
                program.ops.append(try op(tokens))
            }
        }
        if requireHeader && !sawHeader {
            throw fail(1, "expected the version header '\(CowFormat.header)' on line 1 (the file is empty)")
        }
        return program
    }

    func tokenize(_ s: Substring, base: Int) -> [Token] {
        var out: [Token] = []
        var col = base + 1
        var start: Substring.Index? = nil
        var startCol = 0
        var i = s.startIndex
        while i < s.endIndex {
            let c = s[i]
            if c == " " || c == "\t" {
                if let st = start { out.append(Token(text: s[st..<i], column: startCol)); start = nil }
            } else if start == nil {
                start = i
                startCol = col
            }
            col += 1
            i = s.index(after: i)
        }
        if let st = start { out.append(Token(text: s[st...], column: startCol)) }
        return out
    }

    mutating func directive(_ t: [Token], into program: inout Program) throws(ParseError) {
        switch t[0].text {
        case "@expect":
            guard t.count >= 2 else { throw fail(t[0].column + 8, "expected a policy name after @expect") }
            let name = String(t[1].text)
            if let dots = name.firstRange(of: "..") {
                let order = Expectation.eraOrder
                for (part, col) in [(String(name[..<dots.lowerBound]), t[1].column),
                                    (String(name[dots.upperBound...]), t[1].column + name.distance(from: name.startIndex, to: dots.upperBound))]
                where !order.contains(part) && !(part.isEmpty && col > t[1].column) {
                    throw fail(col, "unknown era policy \(CowFormat.quote(part)) in a range (expected one of \(order.joined(separator: ", ")))")
                }
                guard Expectation.range(name) != nil else {
                    throw fail(t[1].column, "the range \(CowFormat.quote(name)) runs backwards (eras go \(order.joined(separator: ", ")))")
                }
            } else if name != "*" && !KnownPolicyNames.all.contains(name) {
                throw fail(t[1].column, "unknown policy \(CowFormat.quote(name)) (expected one of \(KnownPolicyNames.all.joined(separator: ", ")), a range A..B, or *)")
            }
            guard t.count == 3 else {
                throw fail(t.count < 3 ? t[1].column + t[1].text.count + 1 : t[3].column,
                           "expected one verdict list such as 'clean' or 'isolation,coherence'")
            }
            var set = VerdictSet.clean
            var col = t[2].column
            for part in t[2].text.split(separator: ",", omittingEmptySubsequences: false) {
                if part == "clean" {
                    // `clean` stands alone.
                } else if let v = Verdict(name: String(part)) {
                    set.insert(v)
                } else {
                    throw fail(col, "unknown verdict \(CowFormat.quote(part)) (expected clean, isolation, coherence, integrity or leak)")
                }
                col += part.count + 1
            }
            program.expectations.append(Expectation(policy: name, verdicts: set))
        case "@thp-order":
            guard t.count == 2, let n = Int(t[1].text), (1...9).contains(n) else {
                throw fail(t.count >= 2 ? t[1].column : t[0].column, "expected '@thp-order N' with N from 1 to 9")
            }
            program.thpOrder = n
        default:
            throw fail(t[0].column, "unknown directive \(CowFormat.quote(t[0].text)) (expected @expect or @thp-order)")
        }
    }

    // MARK: operands

    func endColumn(_ t: [Token]) -> Int {
        guard let l = t.last else { return 1 }
        return l.column + l.text.count
    }

    func name(_ t: [Token], _ i: Int, prefix: String, what: String) throws(ParseError) -> Int {
        guard i < t.count else { throw fail(endColumn(t), "expected \(what) (\(prefix)0…\(prefix)\(Limits.names - 1))") }
        let s = t[i].text
        guard s.hasPrefix(prefix), let n = Int(s.dropFirst(prefix.count)), n >= 0, n < Limits.names,
              String(n) == s.dropFirst(prefix.count)
        else {
            throw fail(t[i].column, "expected \(what) (\(prefix)0…\(prefix)\(Limits.names - 1)), found \(CowFormat.quote(s))")
        }
        return n
    }

    func process(_ t: [Token], _ i: Int) throws(ParseError) -> Int { try name(t, i, prefix: "p", what: "a process name") }
    func region(_ t: [Token], _ i: Int) throws(ParseError) -> Int { try name(t, i, prefix: "r", what: "a region name") }

    /// `rN[i]`.
    func page(_ t: [Token], _ i: Int) throws(ParseError) -> (Int, Int) {
        guard i < t.count else { throw fail(endColumn(t), "expected a page such as r0[0]") }
        let s = t[i].text
        guard let open = s.firstIndex(of: "["), s.hasSuffix("]") else {
            throw fail(t[i].column, "expected a page such as r0[0], found \(CowFormat.quote(s))")
        }
        let rtok = [Token(text: s[..<open], column: t[i].column)]
        let r = try region(rtok, 0)
        let idx = s[s.index(after: open)..<s.index(before: s.endIndex)]
        guard let n = Int(idx), n >= 0, n < Limits.pages else {
            throw fail(t[i].column + s.distance(from: s.startIndex, to: open) + 1,
                       "expected a page index from 0 to \(Limits.pages - 1), found \(CowFormat.quote(idx))")
        }
        return (r, n)
    }

    func value(_ t: [Token], _ i: Int) throws(ParseError) -> UInt8 {
        guard i < t.count else { throw fail(endColumn(t), "expected a value from 1 to 255") }
        guard let v = Int(t[i].text), (1...255).contains(v) else {
            throw fail(t[i].column, "expected a value from 1 to 255, found \(CowFormat.quote(t[i].text))")
        }
        return UInt8(v)
    }

    func arrow(_ t: [Token], _ i: Int) throws(ParseError) {
        guard i < t.count, t[i].text == "->" else {
            throw fail(i < t.count ? t[i].column : endColumn(t), "expected '->'")
        }
    }

    func noMore(_ t: [Token], _ i: Int) throws(ParseError) {
        if i < t.count { throw fail(t[i].column, "unexpected \(CowFormat.quote(t[i].text)) at the end of the op") }
    }

    /// Optional `from=i count=n` from token `i` to the end.
    func range(_ t: [Token], _ i: Int) throws(ParseError) -> PageRange? {
        if i >= t.count { return nil }
        guard t[i].text.hasPrefix("from="), let f = Int(t[i].text.dropFirst(5)), f >= 0, f < Limits.pages else {
            throw fail(t[i].column, "expected 'from=i count=n' or the end of the op, found \(CowFormat.quote(t[i].text))")
        }
        guard i + 1 < t.count else { throw fail(endColumn(t), "expected 'count=n' after 'from=\(f)'") }
        guard t[i + 1].text.hasPrefix("count="), let n = Int(t[i + 1].text.dropFirst(6)), n >= 1, n <= Limits.pages else {
            throw fail(t[i + 1].column, "expected 'count=n' with n from 1 to \(Limits.pages), found \(CowFormat.quote(t[i + 1].text))")
        }
        try noMore(t, i + 2)
        return PageRange(from: f, count: n)
    }

    mutating func op(_ t: [Token]) throws(ParseError) -> Op {
        let word = String(t[0].text)
        guard let kind = OpKind(name: word) else {
            throw fail(t[0].column, "unknown op \(CowFormat.quote(word)) (expected one of \(OpKind.allCases.map(\.name).joined(separator: ", ")))")
        }
        switch kind {
        case .mmap:
            let p = try process(t, 1), r = try region(t, 2)
            guard t.count > 3, t[3].text.hasPrefix("pages="), let n = Int(t[3].text.dropFirst(6)), n >= 1, n <= Limits.pages
            else {
                throw fail(t.count > 3 ? t[3].column : endColumn(t), "expected 'pages=N' with N from 1 to \(Limits.pages)")
            }
            var backing = Backing.anon, huge = HugeKind.none
            var i = 4
            if i < t.count, t[i].text == "shared" || t[i].text == "file" {
                backing = t[i].text == "shared" ? .shared : .file
                i += 1
            }
            if i < t.count, t[i].text == "thp" || t[i].text == "hugetlb" {
                huge = t[i].text == "thp" ? .thp : .hugetlb
                i += 1
            }
            if i < t.count {
                throw fail(t[i].column, "expected 'shared', 'file', 'thp', 'hugetlb' (in that order) or the end of the op, found \(CowFormat.quote(t[i].text))")
            }
            return .mmap(p: p, r: r, pages: n, backing: backing, huge: huge)
        case .munmap:
            return .munmap(p: try process(t, 1), r: try region(t, 2), range: try range(t, 3))
        case .mprotect:
            let p = try process(t, 1), r = try region(t, 2)
            guard t.count > 3, t[3].text == "ro" || t[3].text == "rw" else {
                throw fail(t.count > 3 ? t[3].column : endColumn(t), "expected 'ro' or 'rw'")
            }
            return .mprotect(p: p, r: r, writable: t[3].text == "rw", range: try range(t, 4))
        case .mremap:
            let p = try process(t, 1), r = try region(t, 2)
            try arrow(t, 3)
            let to = try region(t, 4)
            return .mremap(p: p, r: r, to: to, range: try range(t, 5))
        case .madvise:
            let p = try process(t, 1), r = try region(t, 2)
            guard t.count > 3, let a = Advice(name: String(t[3].text)) else {
                throw fail(t.count > 3 ? t[3].column : endColumn(t),
                           "expected an advice (\(Advice.allCases.map(\.name).joined(separator: ", ")))")
            }
            return .madvise(p: p, r: r, advice: a, range: try range(t, 4))
        case .write, .pokemem:
            let p = try process(t, 1)
            let (r, i) = try page(t, 2)
            let v = try value(t, 3)
            try noMore(t, 4)
            return kind == .write ? .write(p: p, r: r, page: i, value: v) : .pokemem(p: p, r: r, page: i, value: v)
        case .read, .migrate, .swapout, .splitpmd, .splitthp:
            let p = try process(t, 1)
            let (r, i) = try page(t, 2)
            try noMore(t, 3)
            switch kind {
            case .read: return .read(p: p, r: r, page: i)
            case .migrate: return .migrate(p: p, r: r, page: i)
            case .swapout: return .swapout(p: p, r: r, page: i)
            case .splitpmd: return .splitpmd(p: p, r: r, page: i)
            default: return .splitthp(p: p, r: r, page: i)
            }
        case .fork:
            let p = try process(t, 1)
            try arrow(t, 2)
            let c = try process(t, 3)
            try noMore(t, 4)
            return .fork(p: p, child: c)
        case .exit:
            let p = try process(t, 1)
            try noMore(t, 2)
            return .exit(p: p)
        case .pin:
            let p = try process(t, 1)
            let (r, i) = try page(t, 2)
            try arrow(t, 3)
            let g = try name(t, 4, prefix: "g", what: "a pin name")
            var flags = PinFlags()
            var last = -1
            for k in 5..<max(5, t.count) {
                guard let idx = PinFlags.words.firstIndex(where: { $0.1 == t[k].text }), idx > last else {
                    throw fail(t[k].column, "expected pin flags 'rw', 'longterm', 'fast', 'get' (in that order), found \(CowFormat.quote(t[k].text))")
                }
                flags.insert(PinFlags.words[idx].0)
                last = idx
            }
            return .pin(p: p, r: r, page: i, g: g, flags: flags)
        case .unpin, .readpin:
            let g = try name(t, 1, prefix: "g", what: "a pin name")
            try noMore(t, 2)
            return kind == .unpin ? .unpin(g: g) : .readpin(g: g)
        case .writepin:
            let g = try name(t, 1, prefix: "g", what: "a pin name")
            let v = try value(t, 2)
            try noMore(t, 3)
            return .writepin(g: g, value: v)
        case .vmsplice:
            let p = try process(t, 1)
            let (r, i) = try page(t, 2)
            try arrow(t, 3)
            let pipe = try name(t, 4, prefix: "pipe", what: "a pipe name")
            try noMore(t, 5)
            return .vmsplice(p: p, r: r, page: i, pipe: pipe)
        case .readpipe:
            let pipe = try name(t, 1, prefix: "pipe", what: "a pipe name")
            try noMore(t, 2)
            return .readpipe(pipe: pipe)
        case .ksm:
            try noMore(t, 1)
            return .ksm
        case .race:
            return try race(t)
        }
    }

    /// `race p0: pokemem r0[0] 7 | p1: madvise r0 dontneed schedule=0,1,1,0`
    mutating func race(_ t: [Token]) throws(ParseError) -> Op {
        guard let last = t.last, t.count > 1, last.text.hasPrefix("schedule=") else {
            throw fail(endColumn(t), "expected 'schedule=i,j,…' at the end of a race")
        }
        var schedule: [UInt8] = []
        var col = last.column + 9
        // An empty schedule ("schedule=") runs the lanes one after the other.
        let listed = last.text.dropFirst(9)
        for part in listed.isEmpty ? [] : listed.split(separator: ",", omittingEmptySubsequences: false) {
            guard let v = UInt8(part), v < 8 else { throw fail(col, "expected a lane number from 0 to 7 in the schedule, found \(CowFormat.quote(part))") }
            schedule.append(v)
            col += part.count + 1
        }
        var lanes: [Op] = []
        var current: [Token] = []
        func flush(_ at: Int) throws(ParseError) {
            guard let head = current.first else { throw fail(at, "expected a lane such as 'p0: write r0[0] 1'") }
            var toks = current
            if head.text.hasSuffix(":") {
                // "p1:" names the lane's process; it goes back in as the op's first operand.
                let pTok = Token(text: head.text.dropLast(), column: head.column)
                _ = try process([pTok], 0)
                guard toks.count >= 2 else { throw fail(head.column, "expected an op after \(CowFormat.quote(head.text))") }
                toks = [toks[1], pTok] + toks.dropFirst(2)
            }
            let op = try self.op(toks)
            if case .race = op { throw fail(head.column, "a race cannot contain a race") }
            lanes.append(op)
            current = []
        }
        for tok in t[1..<(t.count - 1)] {
            if tok.text == "|" { try flush(tok.column) } else { current.append(tok) }
        }
        try flush(last.column)
        guard lanes.count >= 2, lanes.count <= 8 else { throw fail(t[0].column, "expected 2 to 8 lanes in a race") }
        for s in schedule where Int(s) >= lanes.count {
            throw fail(last.column, "schedule names lane \(s), but the race has \(lanes.count) lanes")
        }
        return .race(lanes: lanes, schedule: schedule)
    }
}
