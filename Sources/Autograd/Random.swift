// The seeded generator itself is the Random module's, shared with Datasets; re-exported so that
// every user of the engine draws from the same `RandomGenerator`.
@_exported import Random

extension Tensor {
    /// Standard normal noise [rows, width] with one row per example of a batch: on several
    /// data-parallel ranks each row is the one its example gets on one rank (`exampleShard`).
    public static func randomNormal(examples rows: Int, width: Int, using generator: inout RandomGenerator) -> Tensor {
        let values = generator.normals(examples: rows, width: width)
        let t = Tensor.uninitialized([rows, width])
        values.withUnsafeBufferPointer { if let base = $0.baseAddress { t.pointer.update(from: base, count: values.count) } }
        return t
    }

    /// A tensor of N(mean, std^2) samples.
    public static func randomNormal(_ shape: [Int], mean: Float = 0, standardDeviation: Float = 1,
                                    requiresGrad: Bool = false, using generator: inout RandomGenerator) -> Tensor {
        let values = generator.normals(shape.reduce(1, *), mean: mean, standardDeviation: standardDeviation)
        let t = Tensor.uninitialized(shape)
        values.withUnsafeBufferPointer { if let base = $0.baseAddress { t.pointer.update(from: base, count: values.count) } }
        t.requiresGrad = requiresGrad
        return t
    }
}
