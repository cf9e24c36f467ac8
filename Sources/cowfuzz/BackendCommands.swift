import CowModel

/// Hidden subcommands used internally; nil if `name` is not one.
func hiddenCommand(_ name: String) -> ((ArraySlice<String>) -> Int32)? { nil }

/// `cowfuzz export-c FILE [-o FILE.c]`: the real backend's C exporter.
func runExportCCommand(_ args: ArraySlice<String>) throws -> Int32 { try realExportC(args) }

/// `replay --backend real`: each program on the real kernel beside the model.
func replayReal(_ programs: [(String, Program)], policies: [PolicyEntry], args: Args) throws -> Int32 {
    try realReplay(programs, policies: policies, args: args)
}

/// `explain --backend real`: the real kernel's pages beside the model's frames.
func explainReal(_ prog: Program, file: String, args: Args) throws -> Int32 {
    try realExplain(prog, file: file, tiers: realTiers(args))
}
