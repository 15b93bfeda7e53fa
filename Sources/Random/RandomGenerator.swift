import Foundation

/// The one seedable generator of the project (xoshiro256**, seeded through SplitMix64): model
/// initialisation, training noise and augmentation (Autograd, StackGAN) and batch order, crops and
/// flips (Datasets) all draw from it. The same seed gives the same stream on every platform and
/// run, and the whole state can be saved and restored, so a resumed run draws the same numbers as
/// an uninterrupted one and a batch is a function of (seed, epoch, batch) alone.
public struct RandomGenerator: RandomNumberGenerator, Codable, Equatable {
    public private(set) var state: [UInt64]
    /// Set while one of several data-parallel ranks trains on its slice of a global batch: the
    /// per-example draws (`perExample`, `normals(examples:width:)`) are made for the whole global
    /// batch and only this rank's rows kept, so every example gets the numbers it gets on one
    /// rank and the generator's state stays the same on every rank. Not saved.
    public var exampleShard: ExampleShard?

    enum CodingKeys: String, CodingKey { case state }

    /// Seeds from one or more words; further words are mixed in through SplitMix64, so that
    /// nearby seeds (epoch 3 vs 4) still give unrelated streams.
    public init(seed: UInt64, _ more: UInt64...) {
        var x = seed
        for word in more { x = Self.splitMix(&x) ^ word }
        state = (0..<4).map { _ in Self.splitMix(&x) }
    }

    private static func splitMix(_ x: inout UInt64) -> UInt64 {
        x &+= 0x9E37_79B9_7F4A_7C15
        var z = x
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// Decodes a saved state (a checkpoint's metadata), refusing one that is not four words or is
    /// all zero (xoshiro's fixed point): a damaged file must not crash or freeze the generator.
    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        state = try c.decode([UInt64].self, forKey: .state)
        guard state.count == 4, state.contains(where: { $0 != 0 }) else {
            throw DecodingError.dataCorruptedError(forKey: .state, in: c, debugDescription: "expected four words, not all zero")
        }
    }

    public mutating func next() -> UInt64 {
        let result = ((state[1] &* 5) << 7 | (state[1] &* 5) >> 57) &* 9
        let t = state[1] << 17
        state[2] ^= state[0]; state[3] ^= state[1]; state[1] ^= state[2]; state[0] ^= state[3]
        state[2] ^= t
        state[3] = state[3] << 45 | state[3] >> 19
        return result
    }

    /// Uniform in [0, 1) with 24 random bits.
    public mutating func nextUniform() -> Float { Float(next() >> 40) * 0x1p-24 }

    /// Uniform integer in 0..<bound without modulo bias (Lemire's method). Written here rather
    /// than using `Int.random(in:using:)` because the standard library does not promise the same
    /// mapping from generator output to integers across versions.
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

    /// Standard normal samples (Box-Muller; both values of a pair are used).
    public mutating func normals(_ count: Int, mean: Float = 0, standardDeviation: Float = 1) -> [Float] {
        var out = [Float](repeating: 0, count: count)
        var i = 0
        while i < count {
            let u1 = Double(next() >> 11) * 0x1p-53, u2 = Double(next() >> 11) * 0x1p-53
            let r = (-2 * Foundation.log(1 - u1)).squareRoot(), theta = 2 * Double.pi * u2
            out[i] = mean + standardDeviation * Float(r * Foundation.cos(theta))
            if i + 1 < count { out[i + 1] = mean + standardDeviation * Float(r * Foundation.sin(theta)) }
            i += 2
        }
        return out
    }
}

/// Rank `index` of `count` holds rows index*n..<(index+1)*n of a global batch of count*n.
public struct ExampleShard: Equatable, Sendable {
    public let index: Int
    public let count: Int

    public init(index: Int, count: Int) {
        self.index = index
        self.count = count
    }
}

extension RandomGenerator {
    /// `draw` once per example of a batch of `rows` (this rank's rows of the global batch when
    /// `exampleShard` is set).
    public mutating func perExample<T>(_ rows: Int, _ draw: (inout RandomGenerator) -> T) -> [T] {
        let (index, count) = exampleShard.map { ($0.index, $0.count) } ?? (0, 1)
        var kept: [T] = []
        kept.reserveCapacity(rows)
        for i in 0..<(rows * count) {
            let value = draw(&self)
            if i / Swift.max(rows, 1) == index { kept.append(value) }
        }
        return kept
    }

    /// Standard normals [rows, width] row-major, one row per example (see `perExample`).
    public mutating func normals(examples rows: Int, width: Int) -> [Float] {
        guard let shard = exampleShard, shard.count > 1 else { return normals(rows * width) }
        let all = normals(rows * shard.count * width)
        return Array(all[(shard.index * rows * width)..<((shard.index + 1) * rows * width)])
    }
}
