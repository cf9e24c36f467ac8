/// A named branch of the machine or a policy decision. Crossed with a 4-bit abstract
/// page state (mapcount ≥ 2, extra references, exclusive, maybe pinned) it gives the
/// coverage the fuzzer steers by.
public enum CovPoint: UInt8, CaseIterable, Sendable {
    case readZeroFault, readFileFault, readShmemFault, readPresent
    case writeInPlace, writeZeroFill, writeFileCow, writeShmem
    case wpReuse, wpCopy, wpReuseKsm, wpCopyKsm
    case unshareNoop, unshareReuse, unshareCopy, unshareNonAnon
    case forkShare, forkEagerCopy, forkClearExclusive, forkSwapDup, forkDontfork, forkWipe, forkZero, forkPagecache
    case forkSkipsNoAnonVMA
    case zap, zapFree, zapSwap
    case gupFault, gupForcedCow, gupUnshare, gupGrabGet, gupGrabPin, gupFail
    case pokeInPlace, pokeFault, pokeRefused
    case mprotectUpgrade, mprotectRO, mremapMove, mremapSplit
    case unpinFree, unpinKeep, pipeRead, pipeReadStale, exitWithPins
    case lruDrain, lruBatchFull
    case thpFault, thpZeroPmd, pmdReuse, pmdCopyWhole, pmdSplitCopy, pmdSplit, folioSplit, folioSplitRefused
    case forkPmdShare, forkPmdSplit, collapse, collapseRefused, pteLargeReuse, pteLargeCopy
    case swapout, swapoutRefused, swapinRead, swapinWrite, swapinReuse, swapinCopy, swapcacheFree
    case ksmMerge, ksmRefused, ksmBreak, ksmUnmerge
    case migrate, migrateRefused, migrateExclusive
    case hugetlbFault, hugetlbReuse, hugetlbCopy, hugetlbForkCopy, hugetlbPokeRefused
    case raceStep, raceZap, raceFollowRetry, raceFastBackoff

    public var name: String { String(describing: self) }
}

/// A fixed-size coverage bitmap: no allocation, cheap to merge and compare.
public struct Coverage: Hashable, Sendable {
    public static let words = 32
    public var bits: InlineArray<32, UInt64> = .init(repeating: 0)

    public init() {}

    @inline(__always) public mutating func hit(_ p: CovPoint, _ state: UInt8) {
        let i = Int(p.rawValue) &* 16 &+ Int(state & 15)
        bits[i &>> 6] |= 1 &<< UInt64(i & 63)
    }

    public var count: Int {
        var n = 0
        for w in 0..<Coverage.words { n += bits[w].nonzeroBitCount }
        return n
    }

    /// Adds `other`; returns true if it had a bit this one lacked.
    @discardableResult
    public mutating func merge(_ other: Coverage) -> Bool {
        var grew = false
        for w in 0..<Coverage.words {
            let n = bits[w] | other.bits[w]
            if n != bits[w] { grew = true; bits[w] = n }
        }
        return grew
    }

    public func isSubset(of other: Coverage) -> Bool {
        for w in 0..<Coverage.words where bits[w] & ~other.bits[w] != 0 { return false }
        return true
    }

    /// The indices of the set bits (point * 16 + state).
    public var indices: [Int] {
        var out: [Int] = []
        for w in 0..<Coverage.words {
            var b = bits[w]
            while b != 0 {
                let t = b.trailingZeroBitCount
                out.append(w * 64 + t)
                b &= b - 1
            }
        }
        return out
    }

    public static func describe(_ index: Int) -> String {
        let p = CovPoint(rawValue: UInt8(index / 16)).map(\.name) ?? "?"
        let s = index % 16
        var parts: [String] = []
        if s & 1 != 0 { parts.append("shared") }
        if s & 2 != 0 { parts.append("extra-refs") }
        if s & 4 != 0 { parts.append("exclusive") }
        if s & 8 != 0 { parts.append("pinned") }
        return parts.isEmpty ? p : p + "[" + parts.joined(separator: ",") + "]"
    }

    public static func == (a: Coverage, b: Coverage) -> Bool {
        for w in 0..<Coverage.words where a.bits[w] != b.bits[w] { return false }
        return true
    }

    public func hash(into h: inout Hasher) {
        for w in 0..<Coverage.words { h.combine(bits[w]) }
    }
}

extension MachineState {
    /// The abstract state of a page for coverage: mapcount ≥ 2, extra refs, exclusive, maybe pinned.
    @inline(__always) public func abstractState(_ f: Int32) -> UInt8 {
        guard f > 0, Int(f) < frames.count else { return 0 }
        let fr = frames[Int(f)]
        let h = frames[Int(fr.head)]
        var s: UInt8 = 0
        if fr.mapcount + h.entireMapcount >= 2 { s |= 1 }
        if h.refcount > fr.mapcount + h.entireMapcount + (h.swapcache ? 1 : 0) + (h.lruPending ? 1 : 0) { s |= 2 }
        if fr.exclusive { s |= 4 }
        if maybePinned(f) { s |= 8 }
        return s
    }

    @inline(__always) public mutating func cover(_ p: CovPoint, _ f: Int32) {
        coverage.hit(p, abstractState(f))
    }
}
