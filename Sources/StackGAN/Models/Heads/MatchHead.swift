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

    public var namedTensors: [NamedTensor] {
        conv.namedTensors(prefix: "get_cond_logits.outlogits.0") + (norm?.namedTensors(prefix: "get_cond_logits.outlogits.1") ?? [])
            + logit.namedTensors(prefix: "get_cond_logits.outlogits.3")
    }
}
