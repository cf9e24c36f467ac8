import CowModel
/// Commands that later issues fill in. Each is replaced by its own file.
func runExportCCommand(_ args: ArraySlice<String>) throws -> Int32 { throw UsageError("export-c is not built yet") }
/// Hidden subcommands used internally (e.g. the real-kernel executor); nil if `name` is not one.
func hiddenCommand(_ name: String) -> ((ArraySlice<String>) -> Int32)? { nil }
func replayReal(_ programs: [(String, Program)], policies: [PolicyEntry], args: Args) throws -> Int32 {
    throw UsageError("--backend real is not built yet")
}
func explainReal(_ prog: Program, file: String) throws -> Int32 {
    throw UsageError("--backend real is not built yet")
}
