import Autograd
import NN

/// StackGAN's conditional head (`get_cond_logits`, D_GET_LOGITS): the condition [N, c] tiled 4x4
/// after the features, conv3x3(8ndf+c, 8ndf) BN LReLU(0.2), Conv(8ndf, 1, 4, stride 4, bias)
/// -> match [N]. The published head ends in Sigmoid; this returns the logit before it. With
/// spectral normalisation the convs are normalised and there is no BN.
public final class MatchHead: DiscriminatorHeadLayer {
    public let conv: Conv2d
    public let norm: BatchNorm?
    public let logit: Conv2d

    public init(featureChannels: Int, conditionWidth: Int, spectralNorm: Bool = false, using generator: inout RandomGenerator) {
        conv = conv3x3(featureChannels + conditionWidth, featureChannels, spectralNorm: spectralNorm, using: &generator)
        norm = spectralNorm ? nil : BatchNorm(channels: featureChannels, using: &generator)
        logit = Conv2d(inputs: featureChannels, outputs: 1, kernel: 4, stride: 4, bias: true, spectralNorm: spectralNorm,
                       using: &generator)
    }

    /// The match logit alone, [N].
    func match(features: Tensor, condition: Tensor, training: Bool) throws -> Tensor {
        let tiled = try condition.tiled(height: 4, width: 4)
        var h = try conv(Tensor.concatChannels([features, tiled]), training: training)
        if let norm { h = try norm(h, training: training) }
        return try logit(h.leakyRelu(slope: 0.2), training: training).flattenedLogits()
    }

    public func callAsFunction(features: Tensor, condition: Tensor, training: Bool) throws -> DiscriminatorLogits {
        DiscriminatorLogits(match: try match(features: features, condition: condition, training: training), real: nil)
    }

    /// The match logit of every image against every caption, [N, N] (entry (i, j): image i,
    /// caption j), as the contrastive scores: logits used as they are (`temperature` is for
    /// cosine scores). The conv is linear in its input, so conv(concat(f_i, tile(c_j))) =
    /// conv(concat(f_i, 0)) + conv(concat(0, tile(c_j))): the image part runs once per image, the
    /// caption part once per caption, and only their sum, the activation and the 4x4 logit conv run
    /// per pair. Spectral normalisation's power iteration is not advanced here (the match pass
    /// does that); with batch norm the N x N pairs form its batch.
    public func pairScores(features: Tensor, condition: Tensor, temperature: Float, training: Bool) throws -> PairScores? {
        let logits = try pairLogits(features: features, condition: condition, training: training)
        return PairScores(imageToText: logits, textToImage: try logits.transposed())
    }

    /// [N, N] match logits of every (image, caption) pair.
    func pairLogits(features f: Tensor, condition code: Tensor, training: Bool) throws -> Tensor {
        let (n, c, size) = (f.shape[0], code.shape[1], Array(f.shape.dropFirst(2)))
        let w = try conv.effectiveWeight(powerIteration: false)
        let image = try Tensor.concatChannels([f, Tensor(repeating: 0, shape: [n, c] + size)])
            .conv2d(weight: w, stride: conv.stride, padding: conv.padding)
        let text = try Tensor.concatChannels([Tensor(repeating: 0, shape: f.shape), code.tiled(height: size[0], width: size[1])])
            .conv2d(weight: w, stride: conv.stride, padding: conv.padding)
        var h = try Tensor.pairwiseSum(image, text)
        if let norm { h = try norm(h, training: training) }
        return try h.leakyRelu(slope: 0.2).conv2d(weight: logit.effectiveWeight(powerIteration: false), bias: logit.bias,
                                                   stride: logit.stride, padding: logit.padding).reshaped([n, n])
    }

    public var namedTensors: [NamedTensor] {
        conv.namedTensors(prefix: "get_cond_logits.outlogits.0") + (norm?.namedTensors(prefix: "get_cond_logits.outlogits.1") ?? [])
            + logit.namedTensors(prefix: "get_cond_logits.outlogits.3")
    }
}
