import CowModel

/// Whether a signature was new to this run's stores.
public enum FindingStatus: String, Hashable, Sendable, Codable {
    /// Not in `corpus/` nor `crashes/`: shrunk and written to `crashes/`.
    case new
    /// A corpus program shows it.
    case known
    /// A file already in `crashes/` shows it (found by an earlier run, not triaged yet).
    case seen
    /// Shown once, but not again when the shrinker re-ran the same program: a backend
    /// that is not deterministic (the real kernel: a THP allocation that fails, ksmd's
    /// timing). Reported, never written to `crashes/`, not counted as new.
    case flaky
}

/// How a finding's first program came to be.
public enum ProgramOrigin: String, Hashable, Sendable, Codable {
    case generated
    case mutant
}

/// One distinct signature met by a run: its reproducer and how it was found.
public struct Finding: Sendable {
    public var signature: Signature
    public var status: FindingStatus
    /// The reproducer: the shrunk program (new), or the stored one (known, seen).
    public var program: Program
    /// Its file: in `crashes/` (new, seen) or `corpus/` (known); nil when not written.
    public var path: String?
    /// Programs of this run that showed the signature.
    public var hits: Int
    /// The first program that showed it: its index in the run and how it was made.
    public var programIndex: Int
    public var origin: ProgramOrigin
    public var originalOps: Int
    /// Seconds from the start of the run and programs run when it was first seen.
    public var foundAtSeconds: Double
    public var foundAfterPrograms: Int
    /// The op kinds of the program's swarm draw (fresh programs only).
    public var swarm: [OpKind]
    /// The shrinker's figures (new findings only) for the kept reproducer.
    public var shrink: ShrinkResult?
    /// Programs with this signature that were shrunk; the smallest result is kept.
    public var shrunkPrograms = 1
    /// The crash file at `path` is not this run's reproducer: a no larger one (another
    /// run's, sharing the directory) already stood there and was kept.
    public var keptExisting = false

    public var ops: Int { program.ops.count }
    /// The historic bug of the catalogue this root cause is, if any.
    public var bug: KnownBug? { KnownBugs.match(signature) }
}
