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
