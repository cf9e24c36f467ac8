/// SplitMix64: the one seeded pseudo-random generator of cowfuzz.
///
/// Every random choice of the fuzzer (programs, swarm draws, mutations, pool
/// replacement) comes from a `SplitMix64` passed `inout`. It is tiny, fast, passes
/// BigCrush for this use, and its state is one word, so a program's seed is enough
/// to replay it. (Steele, Lea, Flood, "Fast splittable pseudorandom number
/// generators", OOPSLA 2014; the same generator as swift-algorithms' tests.)
public struct SplitMix64: RandomNumberGenerator, Hashable, Sendable {
    public private(set) var state: UInt64

    public init(seed: UInt64) { state = seed }

    @inline(__always) public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        return SplitMix64.mix(state)
    }

    /// The SplitMix64 finaliser: a bijective scrambling of one word.
    @inline(__always) public static func mix(_ x: UInt64) -> UInt64 {
        var z = x
        z = (z ^ (z &>> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z &>> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z &>> 31)
    }

    /// The seed of item `index` of a stream seeded by `seed`: a pure function, so
    /// program `i` of a run is the same whatever worker makes it and whenever.
    @inline(__always) public static func derive(_ seed: UInt64, _ index: UInt64, stream: UInt64 = 0) -> UInt64 {
        mix(mix(seed &+ 0x632B_E59B_D9B4_E019 &* (stream &+ 1)) ^ (index &* 0x9E37_79B9_7F4A_7C15))
    }

    /// A uniform integer in `0..<n` (`0` when `n <= 1`), by Lemire's multiply-shift.
    @inline(__always) public mutating func below(_ n: Int) -> Int {
        guard n > 1 else { return 0 }
        return Int(next().multipliedFullWidth(by: UInt64(n)).high)
    }

    /// True with probability `percent`/100.
    @inline(__always) public mutating func chance(_ percent: Int) -> Bool { below(100) < percent }

    /// An index drawn with the given non-negative integer weights (0 if all are zero).
    @inline(__always) public mutating func weighted(_ weights: UnsafeBufferPointer<UInt16>, total: Int) -> Int {
        var x = below(total)
        for i in 0..<weights.count {
            x -= Int(weights[i])
            if x < 0 { return i }
        }
        return 0
    }
}
