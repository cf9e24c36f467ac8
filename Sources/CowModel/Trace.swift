/// What happened to one op in one run: executed, skipped (names or state do not allow
/// it, for every policy alike) or failed (the kernel modelled by the policy refused it,
/// such as a FOLL_FORCE write to hugetlb on 6.2+).
public enum OpStatus: Hashable, Sendable {
    case executed
    case skipped(SkipReason)
    case failed(SkipReason)

    public var executed: Bool { if case .executed = self { true } else { false } }
}

/// Why an op did not run. A closed set of static reasons: no strings on the hot path.
public enum SkipReason: UInt8, Hashable, Sendable, CaseIterable, Error {
    case noProcess, processExists, noRegion, regionExists, pageOutOfRange, pageNotMapped
    case notWritable, noPin, pinExists, pinNotWritable, noPipe, pipeFull, pipeEmpty
    case badRange, notSupportedYet, notApplicable, refusedByKernel, gupFailed
    case realUnsupported
    /// The real kernel's process did not answer before the deadline (the run is killed).
    case timedOut

    public var text: String {
        switch self {
        case .noProcess: "no such process"
        case .processExists: "process name already alive"
        case .noRegion: "no such region"
        case .regionExists: "region name already mapped"
        case .pageOutOfRange: "page index outside the region"
        case .pageNotMapped: "page not mapped (a hole left by munmap or mremap)"
        case .notWritable: "mapping not writable (the access would SIGSEGV)"
        case .noPin: "no such pin"
        case .pinExists: "pin name already held"
        case .pinNotWritable: "pin is not rw"
        case .noPipe: "no such pipe"
        case .pipeFull: "pipe full"
        case .pipeEmpty: "pipe empty"
        case .badRange: "page range outside the region"
        case .notSupportedYet: "op not modelled by this backend"
        case .notApplicable: "op does not apply to this mapping"
        case .refusedByKernel: "refused by this kernel"
        case .gupFailed: "get_user_pages failed (EFAULT)"
        case .realUnsupported: "not executable on this machine's kernel"
        case .timedOut: "timed out on this machine's kernel"
        }
    }
}

/// One run's observable outcome: per op, its status and (for read, readpin and
/// readpipe) the value observed. `observed[i] < 0` means no observation.
public struct Trace: Hashable, Sendable {
    public var statuses: [OpStatus]
    public var observed: [Int16]
    /// Per op: the store id the observation showed (`StoreID`), or `StoreID.none`.
    /// Empty for a backend that sees values only (the real kernel): the checker then
    /// maps values back to the program's stores.
    public var stores: [Int32] = []
    /// Per op: the decision stamped on the observed folio (`Culprit.none` with the
    /// observed page kind when no risky decision touched it). Empty without provenance.
    public var culprits: [Causes] = []
    /// The status of each lane of each `race` op, in program order (lanes.count entries
    /// per race, skipped races included): the oracle applies only the lanes that ran.
    public var laneStatuses: [OpStatus]

    public init(statuses: [OpStatus], observed: [Int16], laneStatuses: [OpStatus] = []) {
        self.statuses = statuses
        self.observed = observed
        self.laneStatuses = laneStatuses
    }

    public init(count: Int) {
        statuses = Array(repeating: .skipped(.notApplicable), count: count)
        observed = Array(repeating: -1, count: count)
        stores = Array(repeating: StoreID.none, count: count)
        culprits = Array(repeating: .none, count: count)
        laneStatuses = []
    }
}
