import Autograd
import NN

// Building blocks of StackGAN-Pytorch's model.py. Names are the nn.Sequential indices of that file
// (activations and Upsample hold no tensors but still take an index), so checkpoints carry over.
// Shape letters: N batch, E embedding width, c condition width, C channels, H x W spatial.

/// 3x3 convolution, stride 1, pad 1, no bias: keeps H and W. Fresh layers get the published init
/// (NN's Initializer: weights N(0, 0.02), BN scale N(1, 0.02)).
func conv3x3(_ inputs: Int, _ outputs: Int, spectralNorm: Bool = false, using generator: inout RandomGenerator) -> Conv2d {
    Conv2d(inputs: inputs, outputs: outputs, kernel: 3, stride: 1, padding: 1, spectralNorm: spectralNorm, using: &generator)
}

/// 4x4 stride-2 convolution, no bias: halves H and W.
func down(_ inputs: Int, _ outputs: Int, spectralNorm: Bool = false, using generator: inout RandomGenerator) -> Conv2d {
    Conv2d(inputs: inputs, outputs: outputs, kernel: 4, stride: 2, padding: 1, spectralNorm: spectralNorm, using: &generator)
}

extension Tensor {
    /// LeakyReLU for slope > 0, ReLU for 0 (the encoders differ only in this).
    func activated(slope: Float) -> Tensor { slope == 0 ? relu() : leakyRelu(slope: slope) }
}

/// Conditioning augmentation (CA_NET, `ca_net`): fc Linear(E, 2c) then activation; mu = first c,
/// logvar = last c; c_hat = mu + exp(logvar / 2) * eps. Input [N, E]; outputs [N, c] each.
/// The fc sees the embedding times `inputScale` (`model.embedding_scale`, 1 as published).
public final class ConditioningAugmentation: Layer {
    public let fc: Linear
    public let conditionDimension: Int
    public let activation: CAActivation
    public let inputScale: Float

    public init(embeddingDimension: Int, conditionDimension: Int, activation: CAActivation, inputScale: Float = 1,
                using generator: inout RandomGenerator) {
        fc = Linear(inputs: embeddingDimension, outputs: 2 * conditionDimension, using: &generator)
        self.conditionDimension = conditionDimension
        self.activation = activation
        self.inputScale = inputScale
    }

    /// c_hat with the given eps [N, c] (parity tests feed PyTorch's).
    public func callAsFunction(_ embedding: Tensor, noise eps: Tensor) throws -> (sample: Tensor, mu: Tensor, logVariance: Tensor) {
        let c = conditionDimension
        let embedding = inputScale == 1 ? embedding : embedding.scaled(by: inputScale)
        // Row blocks of one fc: the activation is elementwise, so this equals fc-then-split and
        // needs no column-slice op; both blocks' gradients land in `ca_net.fc.weight`.
        func half(_ rows: Range<Int>) throws -> Tensor {
            let y = try embedding.linear(weight: fc.weight.slicedBatch(rows), bias: fc.bias.map { try $0.slicedBatch(rows) })
            return y.activated(slope: activation == .relu ? 0 : 0.2)
        }
        let mu = try half(0..<c), logVariance = try half(c..<(2 * c))
        return (try Tensor.gaussianSample(mu: mu, logVariance: logVariance, noise: eps), mu, logVariance)
    }

    /// c_hat with eps drawn from `generator`, so a run reproduces from its seed.
    public func callAsFunction(_ embedding: Tensor, using generator: inout RandomGenerator) throws -> (sample: Tensor, mu: Tensor, logVariance: Tensor) {
        try self(embedding, noise: Tensor.randomNormal(examples: embedding.shape.first ?? 0, width: conditionDimension, using: &generator))
    }

    public var namedTensors: [NamedTensor] { fc.namedTensors(prefix: "fc") }
}

/// upBlock: nearest x2, conv3x3, BN, ReLU. [N, C, H, W] -> [N, O, 2H, 2W]. Names `1.weight`, `2.*`.
/// From 16x16 inputs up, upsampling and conv run as one op (Autograd's `upsampledConv3x3`): the
/// same function without storing the 4x larger upsampled tensor, and faster there. On 4x4 and 8x8
/// inputs (Stage-I's first two blocks) Winograd on the small upsampled map is faster (measured
/// 162 vs 192 ms and 102 vs 127 ms per training iteration at batch 64).
public final class UpBlock: Layer {
    public let conv: Conv2d
    public let norm: BatchNorm

    public init(_ inputs: Int, _ outputs: Int, using generator: inout RandomGenerator) {
        conv = conv3x3(inputs, outputs, using: &generator)
        norm = BatchNorm(channels: outputs, using: &generator)
    }

    /// `modulation` (`generator_conditioning: every_block`) rescales and shifts the batch-normed
    /// map per example before the ReLU.
    public func callAsFunction(_ x: Tensor, modulation: ConditionalAffine.Modulation? = nil, training: Bool) throws -> Tensor {
        let h = x.shape[2] >= 16 ? try x.upsampledConv3x3(weight: conv.weight) : try conv(x.upsampleNearest2x())
        let normed = try norm(h, training: training)
        return try (modulation.map { try normed.modulated(scale: $0.scale, shift: $0.shift) } ?? normed).relu()
    }

    public var namedTensors: [NamedTensor] { conv.namedTensors(prefix: "1") + norm.namedTensors(prefix: "2") }
}

/// Conditional batch norm's per-example affine: from the condition code [N, c], `gamma` and `beta`
/// Linear(c, C) give a scale 1 + gamma and a shift beta [N, C] for a C-channel map [N, C, H, W].
/// With the published N(0, 0.02) init both start near 0, so the block starts as the plain one.
/// Names `gamma.*`, `beta.*`.
public final class ConditionalAffine: Layer {
    public typealias Modulation = (scale: Tensor, shift: Tensor)
    public let gamma: Linear
    public let beta: Linear

    public init(conditionWidth: Int, channels: Int, using generator: inout RandomGenerator) {
        gamma = Linear(inputs: conditionWidth, outputs: channels, using: &generator)
        beta = Linear(inputs: conditionWidth, outputs: channels, using: &generator)
    }

    /// Scale and shift [N, C] for `code` [N, c].
    public func callAsFunction(_ code: Tensor) throws -> Modulation {
        (try gamma(code).adding(1), try beta(code))
    }

    public var namedTensors: [NamedTensor] { gamma.namedTensors(prefix: "gamma") + beta.namedTensors(prefix: "beta") }
}

/// ResBlock: relu(x + BN(conv(relu(BN(conv(x)))))), [N, C, H, W] -> same. Names `block.0/1/3/4`.
public final class ResidualBlock: Layer {
    public let conv1: Conv2d, norm1: BatchNorm, conv2: Conv2d, norm2: BatchNorm

    public init(channels: Int, using generator: inout RandomGenerator) {
        conv1 = conv3x3(channels, channels, using: &generator)
        norm1 = BatchNorm(channels: channels, using: &generator)
        conv2 = conv3x3(channels, channels, using: &generator)
        norm2 = BatchNorm(channels: channels, using: &generator)
    }

    public func callAsFunction(_ x: Tensor, training: Bool) throws -> Tensor {
        let h = try norm1(conv1(x), training: training).relu()
        return try norm2(conv2(h), training: training).adding(x).relu()
    }

    public var namedTensors: [NamedTensor] {
        conv1.namedTensors(prefix: "block.0") + norm1.namedTensors(prefix: "block.1")
            + conv2.namedTensors(prefix: "block.3") + norm2.namedTensors(prefix: "block.4")
    }
}

/// A Sequential of conv [BN] activation groups: the first group has no BN (index 0 conv, 1
/// activation), group k >= 1 sits at indices 3k-1 (conv), 3k (BN), 3k+1 (activation). This is
/// the layout of the discriminators' `encode_img`, GAN-CLS's `netD_1` and Stage-II's `encoder`.
/// With `spectralNorm` (`model.spectral_norm`) every conv is spectrally normalised and the groups
/// have no BN, as in SNGAN's discriminator; the indices stay the same.
public final class ConvStack: Layer {
    public let convs: [Conv2d]
    public let norms: [BatchNorm]
    /// 0.2 in the discriminators (LeakyReLU), 0 in Stage-II's encoder (ReLU).
    public let slope: Float

    init(first: Conv2d, rest: [Conv2d], slope: Float, batchNorm: Bool = true, using generator: inout RandomGenerator) {
        convs = [first] + rest
        var norms: [BatchNorm] = []
        if batchNorm { for conv in rest { norms.append(BatchNorm(channels: conv.weight.shape[0], using: &generator)) } }
        self.norms = norms
        self.slope = slope
    }

    /// down(3, w0) then down(w_i, w_i+1) for each later width: [N, 3, H, W] -> [N, w_last, H/2^k, W/2^k].
    convenience init(downWidths widths: [Int], slope: Float, spectralNorm: Bool = false, using generator: inout RandomGenerator) {
        let first = down(3, widths[0], spectralNorm: spectralNorm, using: &generator)
        var rest: [Conv2d] = []
        for (i, o) in zip(widths, widths.dropFirst()) { rest.append(down(i, o, spectralNorm: spectralNorm, using: &generator)) }
        self.init(first: first, rest: rest, slope: slope, batchNorm: !spectralNorm, using: &generator)
    }

    public func callAsFunction(_ x: Tensor, training: Bool) throws -> Tensor {
        try outputs(x, training: training).last ?? x
    }

    /// Every group's output, first to last (the last is `callAsFunction`'s).
    public func outputs(_ x: Tensor, training: Bool) throws -> [Tensor] {
        var h = try convs[0](x, training: training).activated(slope: slope)
        var all = [h]
        for (k, conv) in convs.dropFirst().enumerated() {
            h = try conv(h, training: training)
            if k < norms.count { h = try norms[k](h, training: training) }
            h = h.activated(slope: slope)
            all.append(h)
        }
        return all
    }

    public var namedTensors: [NamedTensor] {
        convs[0].namedTensors(prefix: "0") + convs.dropFirst().enumerated().flatMap { k, conv in
            conv.namedTensors(prefix: "\(3 * (k + 1) - 1)") + (k < norms.count ? norms[k].namedTensors(prefix: "\(3 * (k + 1))") : [])
        }
    }
}
