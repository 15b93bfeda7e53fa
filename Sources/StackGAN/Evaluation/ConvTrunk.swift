import Autograd
import NN

// Shape letters: N images, w the first conv's channels.

/// The convolutional body shared by the evaluation models (`ConditionClassifier`,
/// `ImageTextMatcher`): images [N, 3, 64, 64] in [-1, 1]
/// -> `conv1` 4x4/2 LReLU(0.2) [N, w, 32, 32] -> `conv2` 4x4/2 BN LReLU [N, 2w, 16, 16]
/// -> `conv3` 3x3/1 BN LReLU [N, 4w, 16, 16] -> `conv4` 4x4/2 BN LReLU [N, 4w, 8, 8].
/// He-initialised: with fan-ins up to 1024 the GANs' N(0, 0.02) shrinks the signal layer by layer
/// and these small models learn several times slower.
public final class ConvTrunk: Layer {
    public static let imageSize = 64
    public let width: Int
    public let convs: [Conv2d]
    public let norms: [BatchNorm]

    public init(width: Int, using generator: inout RandomGenerator) {
        self.width = width
        let channels = [3, width, 2 * width, 4 * width, 4 * width]
        convs = (0..<4).map { i in
            i == 2 ? Conv2d(inputs: channels[i], outputs: channels[i + 1], kernel: 3, stride: 1, padding: 1, using: &generator)
                : Conv2d(inputs: channels[i], outputs: channels[i + 1], kernel: 4, stride: 2, padding: 1, bias: i == 0, using: &generator)
        }
        norms = (1..<4).map { BatchNorm(channels: channels[$0 + 1], using: &generator) }
        heInitialize(convs.map(\.weight), using: &generator)
    }

    /// Channels of the output, 4w.
    public var outputChannels: Int { 4 * width }

    /// images [N, 3, 64, 64] -> [N, 4w, 8, 8].
    public func callAsFunction(_ images: Tensor, training: Bool) throws -> Tensor {
        guard images.rank == 4, images.shape[1] == 3, images.shape[2] == Self.imageSize, images.shape[3] == Self.imageSize else {
            throw EvaluationError("evaluation model: expected images [N, 3, 64, 64], got \(images.shape)")
        }
        var h = try convs[0](images).leakyRelu(slope: 0.2)
        for (conv, norm) in zip(convs.dropFirst(), norms) { h = try norm(conv(h), training: training).leakyRelu(slope: 0.2) }
        return h
    }

    /// `conv1`...`conv4`, `norm2`...`norm4` (the names the classifier files have always used).
    public var namedTensors: [NamedTensor] {
        convs.enumerated().flatMap { $1.namedTensors(prefix: "conv\($0 + 1)") }
            + norms.enumerated().flatMap { $1.namedTensors(prefix: "norm\($0 + 2)") }
    }
}

/// Overwrites weights [out, in...] with N(0, 2 / fan-in) (He et al. 2015).
func heInitialize(_ weights: [Tensor], using generator: inout RandomGenerator) {
    for weight in weights {
        let fanIn = weight.shape.dropFirst().reduce(1, *)
        let values = generator.normals(weight.count, standardDeviation: Float((2 / Double(fanIn)).squareRoot()))
        values.withUnsafeBufferPointer { try? weight.assign($0) }
    }
}

extension Tensor {
    /// [N, C, H, W] -> [N, C], the maximum over H x W. The engine has no pooling op, but
    /// max = sum(h * onehot(argmax)) with the one-hot mask held constant, and the gradient of that
    /// (g at the argmax, 0 elsewhere) is max pooling's. Max rather than mean: a small shape covers a
    /// few of the 64 cells, and averaging drowns it in background (about 3x slower to learn).
    func globalMaxPooled() throws -> Tensor {
        let (n, c, plane) = (shape[0], shape[1], shape[2] * shape[3])
        var mask = [Float](repeating: 0, count: count)
        for p in 0..<(n * c) {
            var best = p * plane
            for i in (p * plane)..<((p + 1) * plane) where pointer[i] > pointer[best] { best = i }
            mask[best] = 1
        }
        let masked = try multiplying(Tensor(shape: shape, scalars: mask))
        return try masked.reshaped([n * c, plane]).linear(weight: Tensor(repeating: 1, shape: [1, plane]), bias: nil).reshaped([n, c])
    }
}
