/// One operation of a program, over dense symbolic names.
///
/// Names are small integers: process `p3` is `3`, region `r1` is `1`, pin `g0` is `0`,
/// pipe `pipe2` is `2`. The text names exist only in the `.cow` format. Every op is
/// total: when a name it uses does not exist in the current state, the machine skips
/// it and records why, so every subsequence of a program is a program.
public enum Op: Hashable, Sendable {
    case mmap(p: Int, r: Int, pages: Int, backing: Backing, huge: HugeKind)
    case munmap(p: Int, r: Int, range: PageRange?)
    case mprotect(p: Int, r: Int, writable: Bool, range: PageRange?)
    case mremap(p: Int, r: Int, to: Int, range: PageRange?)
    case madvise(p: Int, r: Int, advice: Advice, range: PageRange?)
    case write(p: Int, r: Int, page: Int, value: UInt8)
    case read(p: Int, r: Int, page: Int)
    case fork(p: Int, child: Int)
    case exit(p: Int)
    case pin(p: Int, r: Int, page: Int, g: Int, flags: PinFlags)
    case unpin(g: Int)
    case readpin(g: Int)
    case writepin(g: Int, value: UInt8)
    case vmsplice(p: Int, r: Int, page: Int, pipe: Int)
    case readpipe(pipe: Int)
    case pokemem(p: Int, r: Int, page: Int, value: UInt8)
    case ksm
    case migrate(p: Int, r: Int, page: Int)
    case swapout(p: Int, r: Int, page: Int)
    case splitpmd(p: Int, r: Int, page: Int)
    case splitthp(p: Int, r: Int, page: Int)
    /// Two or more ops of different processes run interleaved by `schedule`
    /// (issue "races"): each schedule entry names the lane that takes its next step.
    case race(lanes: [Op], schedule: [UInt8])
}

/// What backs a mapping.
public enum Backing: UInt8, Hashable, Sendable, CaseIterable {
    /// MAP_PRIVATE | MAP_ANONYMOUS: the COW case.
    case anon
    /// MAP_SHARED | MAP_ANONYMOUS (shmem): one object, never copied.
    case shared
    /// MAP_PRIVATE over the model's one file, whose page cache the machine holds.
    case file
}

/// Which page size backs a mapping.
public enum HugeKind: UInt8, Hashable, Sendable, CaseIterable {
    case none
    /// Transparent huge pages are allowed (as if MADV_HUGEPAGE had been given).
    case thp
    /// MAP_HUGETLB: private hugetlb pages with their own COW rules.
    case hugetlb
}

/// The advice of `madvise`.
public enum Advice: UInt8, Hashable, Sendable, CaseIterable {
    case dontneed, dontfork, dofork, wipeonfork, hugepage, nohugepage, collapse, pageout, mergeable, unmergeable

    public var name: String {
        switch self {
        case .dontneed: "dontneed"
        case .dontfork: "dontfork"
        case .dofork: "dofork"
        case .wipeonfork: "wipeonfork"
        case .hugepage: "hugepage"
        case .nohugepage: "nohugepage"
        case .collapse: "collapse"
        case .pageout: "pageout"
        case .mergeable: "mergeable"
        case .unmergeable: "unmergeable"
        }
    }

    public init?(name: String) {
        guard let a = Advice.allCases.first(where: { $0.name == name }) else { return nil }
        self = a
    }
}

/// `from=i count=n`: a page range of a region op.
public struct PageRange: Hashable, Sendable {
    public var from: Int
    public var count: Int
    public init(from: Int, count: Int) {
        self.from = from
        self.count = count
    }
}

/// Flags of `pin`: FOLL_PIN unless `get` (FOLL_GET); `rw` adds FOLL_WRITE.
public struct PinFlags: OptionSet, Hashable, Sendable {
    public let rawValue: UInt8
    public init(rawValue: UInt8) { self.rawValue = rawValue }
    public static let rw = PinFlags(rawValue: 1)
    public static let longterm = PinFlags(rawValue: 2)
    public static let fast = PinFlags(rawValue: 4)
    public static let get = PinFlags(rawValue: 8)

    /// The flags in canonical print order, with their words.
    public static let words: [(PinFlags, String)] = [(.rw, "rw"), (.longterm, "longterm"), (.fast, "fast"), (.get, "get")]
}

/// The kind of an op, without operands: for swarm testing, signatures and `--ops`.
public enum OpKind: UInt8, Hashable, Sendable, CaseIterable, Comparable, Codable {
    case mmap, munmap, mprotect, mremap, madvise, write, read, fork, exit, pin, unpin, readpin, writepin
    case vmsplice, readpipe, pokemem, ksm, migrate, swapout, splitpmd, splitthp, race

    public static func < (a: OpKind, b: OpKind) -> Bool { a.rawValue < b.rawValue }

    public var name: String {
        switch self {
        case .mmap: "mmap"
        case .munmap: "munmap"
        case .mprotect: "mprotect"
        case .mremap: "mremap"
        case .madvise: "madvise"
        case .write: "write"
        case .read: "read"
        case .fork: "fork"
        case .exit: "exit"
        case .pin: "pin"
        case .unpin: "unpin"
        case .readpin: "readpin"
        case .writepin: "writepin"
        case .vmsplice: "vmsplice"
        case .readpipe: "readpipe"
        case .pokemem: "pokemem"
        case .ksm: "ksm"
        case .migrate: "migrate"
        case .swapout: "swapout"
        case .splitpmd: "splitpmd"
        case .splitthp: "splitthp"
        case .race: "race"
        }
    }

    public init?(name: String) {
        guard let k = OpKind.allCases.first(where: { $0.name == name }) else { return nil }
        self = k
    }

    /// Ops whose result is an observation the oracle judges.
    public var observes: Bool { self == .read || self == .readpin || self == .readpipe }
}

extension Op {
    public var kind: OpKind {
        switch self {
        case .mmap: .mmap
        case .munmap: .munmap
        case .mprotect: .mprotect
        case .mremap: .mremap
        case .madvise: .madvise
        case .write: .write
        case .read: .read
        case .fork: .fork
        case .exit: .exit
        case .pin: .pin
        case .unpin: .unpin
        case .readpin: .readpin
        case .writepin: .writepin
        case .vmsplice: .vmsplice
        case .readpipe: .readpipe
        case .pokemem: .pokemem
        case .ksm: .ksm
        case .migrate: .migrate
        case .swapout: .swapout
        case .splitpmd: .splitpmd
        case .splitthp: .splitthp
        case .race: .race
        }
    }

    /// The process an op acts as, if any (pins and pipes act through their owner).
    public var process: Int? {
        switch self {
        case let .mmap(p, _, _, _, _), let .munmap(p, _, _), let .mprotect(p, _, _, _), let .mremap(p, _, _, _),
            let .madvise(p, _, _, _), let .write(p, _, _, _), let .read(p, _, _), let .fork(p, _), let .exit(p),
            let .pin(p, _, _, _, _), let .vmsplice(p, _, _, _), let .pokemem(p, _, _, _), let .migrate(p, _, _),
            let .swapout(p, _, _), let .splitpmd(p, _, _), let .splitthp(p, _, _):
            p
        case .unpin, .readpin, .writepin, .readpipe, .ksm, .race:
            nil
        }
    }
}

/// Bounds on names and sizes that the format accepts. They keep the machine's
/// dense arrays small; a program beyond them is an input error, not a crash.
public enum Limits {
    public static let names = 64
    public static let pages = 1024
    public static let pipeDepth = 16
}
