import CowModel

/// Runs `body` for every seed, labelling a failure with the seed that caused it.
public func withEvery<S: Sequence>(_ label: String, in seeds: S, _ body: (S.Element) throws -> Void) rethrows {
    for s in seeds {
        do { try body(s) } catch {
            print("failed for \(label) = \(s)")
            throw error
        }
    }
}

/// Parses a program from a literal (a test helper: a bad literal is a test bug).
public func program(_ text: String) -> Program {
    do { return try Program(parsing: text, file: "<test>") } catch { fatalError("bad test program: \(error)") }
}

/// CVE-2020-29374 at its known minimum (spec B3a): the reproducer many tests start from.
public let cve2020_29374 = """
mmap p0 r0 pages=1
write p0 r0[0] 1
fork p0 -> p1
vmsplice p1 r0[0] -> pipe0
munmap p1 r0
write p0 r0[0] 2
readpipe pipe0
"""
