import Autograd
import NN

/// GAN-CLS generator (Reed et al. 2016), caption [N, E] + z [N, z_dim] -> image [N, 3, 64, 64].
/// `projection.0` Linear(E, c) LReLU(0.2) of the caption times `model.embedding_scale`; cat(projection, z) as [N, c+z, 1, 1]; `netG`:
/// ConvTranspose(c+z, 8ngf, 4) -> 4x4, then ConvTranspose(4, stride 2, pad 1) to 4ngf, 2ngf, ngf
/// (each BN ReLU) and to 3 channels, tanh. Indices: convT 3k, BN 3k+1; the last convT is `netG.12`.
public final class GANCLSGenerator: TextToImageGenerator {
    public let config: ModelConfig
    public let projection: Linear
    public let deconvs: [ConvTranspose2d]
    public let norms: [BatchNorm]

    public init(config: ModelConfig, using generator: inout RandomGenerator) {
        self.config = config
        let ngf = config.generatorWidth, latent = config.conditionDimension + config.noiseDimension
        projection = Linear(inputs: config.embeddingDimension, outputs: config.conditionDimension, using: &generator)
        var deconvs = [ConvTranspose2d(inputs: latent, outputs: 8 * ngf, kernel: 4, using: &generator)]
        var norms = [BatchNorm(channels: 8 * ngf, using: &generator)]
        for (i, o) in [(8 * ngf, 4 * ngf), (4 * ngf, 2 * ngf), (2 * ngf, ngf)] {
            deconvs.append(ConvTranspose2d(inputs: i, outputs: o, kernel: 4, stride: 2, padding: 1, using: &generator))
            norms.append(BatchNorm(channels: o, using: &generator))
        }
        deconvs.append(ConvTranspose2d(inputs: ngf, outputs: 3, kernel: 4, stride: 2, padding: 1, using: &generator))
        self.deconvs = deconvs
        self.norms = norms
    }

    /// GAN-CLS has no CA: `generator` is not drawn from, and `condition` is the embedding.
    public func callAsFunction(embedding: Tensor, noise: Tensor, training: Bool,
                               using generator: inout RandomGenerator) throws -> GeneratorOutput {
        let scaled = config.embeddingScale == 1 ? embedding : embedding.scaled(by: config.embeddingScale)
        let text = try projection(scaled).leakyRelu(slope: 0.2)
        var h = try Tensor.concatChannels([text, noise]).reshaped([-1, config.conditionDimension + config.noiseDimension, 1, 1])
        for (deconv, norm) in zip(deconvs, norms) { h = try norm(deconv(h), training: training).relu() }
        guard let last = deconvs.last else { throw ShapeError("GANCLSGenerator", "no layers") }
        return GeneratorOutput(image: try last(h).tanh(), mu: nil, logVariance: nil, condition: embedding.detached(),
                               stageOneImage: nil)
    }

    public var namedTensors: [NamedTensor] {
        projection.namedTensors(prefix: "projection.0")
            + zip(deconvs, norms).enumerated().flatMap { k, layer in
                layer.0.namedTensors(prefix: "netG.\(3 * k)") + layer.1.namedTensors(prefix: "netG.\(3 * k + 1)")
            }
            + (deconvs.last?.namedTensors(prefix: "netG.\(3 * norms.count)") ?? [])
    }
}

/// GAN-CLS discriminator. `netD_1`: down(3, ndf) LReLU, then down + BN LReLU to 8ndf:
/// [N, 3, 64, 64] -> [N, 8ndf, 4, 4]. `projection.0` Linear(E, c) LReLU(0.2) of the caption [N, E]
/// (times `model.embedding_scale`), then the head: GAN-CLS's own single logit (`GANCLSMatchHead`).
public final class GANCLSDiscriminator: TextImageDiscriminator {
    public let head: DiscriminatorHead
    public let encoder: ConvStack
    public let projection: Linear
    public let headLayer: any DiscriminatorHeadLayer
    /// `model.embedding_scale`, applied to the caption before `projection`.
    public let embeddingScale: Float

    public init(head: DiscriminatorHead = .single, config: ModelConfig, using generator: inout RandomGenerator) {
        let ndf = config.discriminatorWidth, sn = config.spectralNorm
        self.head = head
        embeddingScale = config.embeddingScale
        encoder = ConvStack(downWidths: [ndf, 2 * ndf, 4 * ndf, 8 * ndf], slope: 0.2, spectralNorm: sn, using: &generator)
        projection = Linear(inputs: config.embeddingDimension, outputs: config.conditionDimension, spectralNorm: sn, using: &generator)
        headLayer = head.makeLayer(family: .ganCLS, featureChannels: 8 * ndf, conditionWidth: config.conditionDimension,
                                   spectralNorm: sn, using: &generator)
    }

    public func features(image: Tensor, training: Bool) throws -> Tensor {
        try encoder(image, training: training)
    }

    /// `condition` is the caption embedding [N, E].
    public func logits(features: Tensor, condition: Tensor, training: Bool) throws -> DiscriminatorLogits {
        try headLayer(features: features, condition: code(condition, training: training), training: training)
    }

    public func pairScores(features: Tensor, condition: Tensor, temperature: Float, training: Bool) throws -> PairScores? {
        try headLayer.pairScores(features: features, condition: code(condition, training: training), temperature: temperature,
                                 training: training)
    }

    /// The text code [N, c] the head reads: `projection.0` of the scaled caption, LReLU(0.2).
    private func code(_ condition: Tensor, training: Bool) throws -> Tensor {
        let scaled = embeddingScale == 1 ? condition : condition.scaled(by: embeddingScale)
        return try projection(scaled, training: training).leakyRelu(slope: 0.2)
    }

    public var namedTensors: [NamedTensor] {
        encoder.namedTensors(prefix: "netD_1") + projection.namedTensors(prefix: "projection.0") + headLayer.namedTensors
    }
}

/// GAN-CLS's single head: the text code [N, c] tiled 4x4 after the features, `netD_2.0`
/// Conv(8ndf+c, 1, 4, no bias) -> match [N].
public final class GANCLSMatchHead: DiscriminatorHeadLayer {
    public let logit: Conv2d

    public init(featureChannels: Int, conditionWidth: Int, spectralNorm: Bool = false, using generator: inout RandomGenerator) {
        logit = Conv2d(inputs: featureChannels + conditionWidth, outputs: 1, kernel: 4, spectralNorm: spectralNorm, using: &generator)
    }

    public func callAsFunction(features: Tensor, condition: Tensor, training: Bool) throws -> DiscriminatorLogits {
        let text = try condition.tiled(height: 4, width: 4)
        return DiscriminatorLogits(match: try logit(Tensor.concatChannels([features, text]), training: training).flattenedLogits(),
                                   real: nil)
    }

    public var namedTensors: [NamedTensor] { logit.namedTensors(prefix: "netD_2.0") }
}
