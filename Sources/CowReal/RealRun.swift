import CowModel

/// The opt-in tiers of the real backend: they change machine-wide settings (KSM knobs,
/// swap, reserved huge pages), so they run one program at a time and restore what they
/// changed, also on failure.
public struct RealTiers: OptionSet, Hashable, Sendable {
    public let rawValue: Int32
    public init(rawValue: Int32) { self.rawValue = rawValue }
    public static let ksm = RealTiers(rawValue: 1)
    public static let swap = RealTiers(rawValue: 2)
    public static let hugetlb = RealTiers(rawValue: 4)

    /// The tiers in canonical order, with their words.
    public static let words: [(RealTiers, String)] = [(.ksm, "ksm"), (.swap, "swap"), (.hugetlb, "hugetlb")]

    /// Parses `ksm,swap,hugetlb` (any subset; empty or `none` for none).
    public init(list: String) throws(RealBackendError) {
        var t: RealTiers = []
        for w in list.split(separator: ",") where !w.isEmpty && w != "none" {
            guard let (tier, _) = RealTiers.words.first(where: { $0.1 == w }) else {
                throw .badTier(String(w))
            }
            t.insert(tier)
        }
        self = t
    }

    public var text: String {
        let w = RealTiers.words.filter { contains($0.0) }.map(\.1)
        return w.isEmpty ? "none" : w.joined(separator: ",")
    }
}

/// Flags of a physical page as `/proc/kpageflags` and `PAGEMAP_SCAN` report them.
public struct RealPageFlags: OptionSet, Hashable, Sendable {
    public let rawValue: UInt32
    public init(rawValue: UInt32) { self.rawValue = rawValue }
    public static let ksm = RealPageFlags(rawValue: 1 << 1)
    public static let thp = RealPageFlags(rawValue: 1 << 2)
    public static let zero = RealPageFlags(rawValue: 1 << 3)
    public static let swapcache = RealPageFlags(rawValue: 1 << 4)
    public static let anon = RealPageFlags(rawValue: 1 << 5)
    public static let hugetlb = RealPageFlags(rawValue: 1 << 6)
    public static let head = RealPageFlags(rawValue: 1 << 7)
    public static let tail = RealPageFlags(rawValue: 1 << 8)
    public static let lru = RealPageFlags(rawValue: 1 << 9)
    /// PMD-mapped (PAGEMAP_SCAN PAGE_IS_HUGE).
    public static let pmd = RealPageFlags(rawValue: 1 << 10)

    public static let words: [(RealPageFlags, String)] = [
        (.anon, "anon"), (.zero, "zero"), (.ksm, "ksm"), (.thp, "thp"), (.pmd, "pmd"), (.hugetlb, "hugetlb"),
        (.swapcache, "swapcache"), (.head, "head"), (.tail, "tail"), (.lru, "lru"),
    ]

    public var text: String { RealPageFlags.words.filter { contains($0.0) }.map(\.1).joined(separator: ",") }
}

/// One page of one process after an op, as the real kernel shows it.
///
/// `frame` is a class, never a raw PFN: within one run, two states with the same
/// nonzero `frame` name the same physical page (sharing); a changed number after a
/// write is a copy. 0 means no page is mapped.
public struct RealPageState: Hashable, Sendable {
    public var process: Int
    public var region: Int
    public var page: Int
    public var present: Bool
    public var swapped: Bool
    public var frame: Int
    /// pagemap bit 56: the page is mapped exactly once (mapcount == 1), not AnonExclusive.
    public var exclusivelyMapped: Bool
    /// `/proc/kpagecount`; nil when unreadable.
    public var mapcount: Int?
    /// PageAnonExclusive (kpageflags bit 34, of the folio head); nil when the start-up
    /// self-test failed or the flags are unreadable.
    public var anonExclusive: Bool?
    public var flags: RealPageFlags

    /// One line: `p1 r0[0]: frame #2 mapcount=1 excl=1 AE=1 [anon,lru]`.
    public var text: String {
        let at = "p\(process) r\(region)[\(page)]"
        guard present else { return "\(at): \(swapped ? "swapped out" : "not present")" }
        var s = "\(at): frame #\(frame)"
        if let m = mapcount { s += " mapcount=\(m)" }
        s += " excl=\(exclusivelyMapped ? 1 : 0)"
        if let ae = anonExclusive { s += " AE=\(ae ? 1 : 0)" }
        let f = flags.text
        if !f.isEmpty { s += " [\(f)]" }
        return s
    }
}

/// One op of a real run: its status, what it observed and the pages it touched.
public struct RealStep: Hashable, Sendable {
    public var status: OpStatus
    /// The value observed (read, readpin, readpipe); -1 none; `RealBackend.corrupt` when
    /// the page did not hold one value in every byte.
    public var observed: Int16
    /// Why it was skipped or failed, or how it was carried out (e.g. which pin mechanism).
    public var detail: String
    public var pages: [RealPageState]
}

/// An op the kernel here cannot execute, with the reason: the run is partial.
public struct RealSkip: Hashable, Sendable {
    public var op: Int
    public var reason: SkipReason
    public var detail: String
}

/// What the start-up self-test of the executor found on this machine.
public struct RealFeatures: Hashable, Sendable {
    public var root = false
    /// Real PFNs in pagemap (root only).
    public var pfns = false
    public var kpageflags = false
    /// The kpageflags bit-34 (PageAnonExclusive) self-test passed.
    public var anonExclusive = false
    public var ioUring = false
    public var thp = false
    public var ksm = false
    public var swap = false
    public var hugetlb = false
    /// The CPU the executor pins every process tree to (-1: pinning failed).
    public var cpu = -1
    public var selfTest = ""

    public init() {}

    /// `root=1 pfn=1 …` as the executor prints it.
    public var text: String {
        "root=\(root ? 1 : 0) pfns=\(pfns ? 1 : 0) kpageflags=\(kpageflags ? 1 : 0) AE-self-test=\(anonExclusive ? "ok" : "failed") "
            + "io_uring=\(ioUring ? 1 : 0) thp=\(thp ? 1 : 0) ksm=\(ksm ? 1 : 0) swap=\(swap ? 1 : 0) hugetlb=\(hugetlb ? 1 : 0) cpu=\(cpu)"
    }
}

/// Everything one run of one program on the real kernel produced.
public struct RealRun: Sendable {
    /// Statuses and observations, comparable with a model policy's trace.
    public var trace: Trace
    /// Per op: status detail and the touched pages' states.
    public var steps: [RealStep]
    /// Some op could not run on this kernel (see `skips`): observations after it may
    /// legitimately differ from a model that ran it.
    public var partial: Bool
    public var skips: [RealSkip]
    /// The program hit its time-out; its process tree was killed and the remaining ops
    /// were not run.
    public var timedOut: Bool
    /// The process group the tree ran in (gone when `run` returns).
    public var processGroup: Int32
    public var microseconds: Int
    public var features: RealFeatures
}

/// Why the real backend could not run a program.
public enum RealBackendError: Error, Hashable, Sendable, CustomStringConvertible {
    case unsupportedPlatform
    case executorNotFound(String)
    case executorFailed(String)
    case protocolError(String)
    case badTier(String)
    /// The helper did not answer (or take input) before the deadline.
    case timedOut(String)
    /// The helper process died (crashed or was killed): an internal error.
    case helperDied(String)
    /// The program exceeds the helper's limits (a usage error: nothing was sent).
    case inputTooLarge(String)

    /// The input, not the machine, is at fault (exit 2 rather than 3).
    public var isUsageError: Bool {
        switch self {
        case .badTier, .inputTooLarge: true
        default: false
        }
    }

    /// The backend cannot run on this machine at all (exit 2: the environment, not a
    /// failure of the helper, which is exit 3).
    public var isUnavailable: Bool {
        switch self {
        case .unsupportedPlatform, .executorNotFound: true
        default: false
        }
    }

    public var description: String {
        switch self {
        case .unsupportedPlatform: "the real backend needs Linux"
        case let .executorNotFound(s): "cannot find or build the real-kernel executor: \(s)"
        case let .executorFailed(s): "the real-kernel executor failed: \(s)"
        case let .protocolError(s): "unexpected output from the real-kernel executor: \(s)"
        case let .badTier(s): "unknown real tier '\(s)' (expected ksm, swap, hugetlb)"
        case let .timedOut(s): "the real-kernel executor timed out: \(s)"
        case let .helperDied(s): "the real-kernel helper died: \(s)"
        case let .inputTooLarge(s): "program too large for the real backend: \(s)"
        }
    }
}
