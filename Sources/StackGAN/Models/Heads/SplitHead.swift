import Autograd
import NN

/// StackGAN's split head (STAGE2_D's): the conditional `MatchHead` plus `get_uncond_logits`,
/// Conv(8ndf, 1, 4, stride 4, bias) on the features alone -> real [N], "a real image" whatever
/// the caption.
public final class SplitHead: DiscriminatorHeadLayer {
    public let match: MatchHead
    public let realness: Conv2d

    public init(featureChannels: Int, conditionWidth: Int, spectralNorm: Bool = false, using generator: inout RandomGenerator) {
        match = MatchHead(featureChannels: featureChannels, conditionWidth: conditionWidth, spectralNorm: spectralNorm, using: &generator)
        realness = Conv2d(inputs: featureChannels, outputs: 1, kernel: 4, stride: 4, bias: true, spectralNorm: spectralNorm,
                          using: &generator)
    }

    public func callAsFunction(features: Tensor, condition: Tensor, training: Bool) throws -> DiscriminatorLogits {
        DiscriminatorLogits(match: try match.match(features: features, condition: condition, training: training),
                            real: try realness(features, training: training).flattenedLogits())
    }

    /// Its match head's pair logits.
    public func pairScores(features: Tensor, condition: Tensor, temperature: Float, training: Bool) throws -> PairScores? {
        try match.pairScores(features: features, condition: condition, temperature: temperature, training: training)
    }

    public var namedTensors: [NamedTensor] {
        match.namedTensors + realness.namedTensors(prefix: "get_uncond_logits.outlogits.0")
    }
}
