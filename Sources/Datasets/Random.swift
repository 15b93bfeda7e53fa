/// Seedable random number generator (xoshiro256**, seeded through SplitMix64).
///
/// The system generator differs between platforms and runs; this one gives the same
/// stream for the same seed everywhere, which makes batches reproducible from
/// (seed, epoch, batch) alone and so makes exact resumption possible.
public struct Xoshiro256: RandomNumberGenerator {
    private var s: (UInt64, UInt64, UInt64, UInt64)

    /// Seeds from one or more words; the words are mixed through SplitMix64 so that
    /// nearby seeds (epoch 3 vs 4) still give unrelated streams.
    public init(seed: UInt64, _ more: UInt64...) {
        var x = seed
        for word in more { x = Xoshiro256.splitMix(&x) ^ word }
        s = (Xoshiro256.splitMix(&x), Xoshiro256.splitMix(&x), Xoshiro256.splitMix(&x), Xoshiro256.splitMix(&x))
    }

    private static func splitMix(_ x: inout UInt64) -> UInt64 {
        x &+= 0x9E37_79B9_7F4A_7C15
        var z = x
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    public mutating func next() -> UInt64 {
        let result = ((s.1 &* 5) << 7 | (s.1 &* 5) >> 57) &* 9
        let t = s.1 << 17
        s.2 ^= s.0
        s.3 ^= s.1
        s.1 ^= s.2
        s.0 ^= s.3
        s.2 ^= t
        s.3 = (s.3 << 45) | (s.3 >> 19)
        return result
    }

    /// Uniform integer in 0..<bound without modulo bias (Lemire's method). Written here
    /// rather than using `Int.random(in:using:)` because the standard library does not
    /// promise the same mapping from generator output to integers across versions.
    public mutating func below(_ bound: Int) -> Int {
        precondition(bound > 0, "below(_:) needs a positive bound")
        let b = UInt64(bound)
        var m = next().multipliedFullWidth(by: b)
        if m.low < b {
            let threshold = (0 &- b) % b
            while m.low < threshold { m = next().multipliedFullWidth(by: b) }
        }
        return Int(m.high)
    }

    /// Fair coin.
    public mutating func coin() -> Bool { next() >> 63 == 1 }

    /// Fisher-Yates shuffle with `below`, for the same cross-version reason.
    public mutating func shuffle<T>(_ a: inout [T]) {
        guard a.count > 1 else { return }
        for i in stride(from: a.count - 1, to: 0, by: -1) { a.swapAt(i, below(i + 1)) }
    }
}
