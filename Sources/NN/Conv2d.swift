import Autograd

/// 2-D convolution [N,C,H,W] -> [N,O,P,Q] with a square kernel. Tensors: `weight` [O,C,K,K],
/// `bias` [O] (StackGAN's convs have none), and with spectral normalisation its power-iteration
/// vector `weight_u` [O] (a buffer: saved, not trained).
public final class Conv2d: Layer {
    public let weight: Tensor
    public let bias: Tensor?
    public let stride: Int
    public let padding: Int
    /// Spectral normalisation's persistent vector u [O]; nil for a plain conv.
    public let spectralU: Tensor?

    public init(inputs: Int, outputs: Int, kernel: Int, stride: Int = 1, padding: Int = 0, bias: Bool = false,
                spectralNorm: Bool = false, using generator: inout RandomGenerator) {
        weight = Initializer.normal([outputs, inputs, kernel, kernel], using: &generator)
        self.bias = bias ? Initializer.zeros([outputs]) : nil
        self.stride = stride
        self.padding = padding
        spectralU = spectralNorm ? Initializer.unitVector(outputs, using: &generator) : nil
    }

    /// `training` advances spectral normalisation's power iteration (no effect on a plain conv).
    public func callAsFunction(_ x: Tensor, training: Bool = false) throws -> Tensor {
        let w = try effectiveWeight(powerIteration: training)
        return try x.conv2d(weight: w, bias: bias, stride: stride, padding: padding)
    }

    /// The weight it applies: `weight`, or with spectral normalisation weight / sigma(weight)
    /// (`powerIteration` advances u, as a training forward does).
    public func effectiveWeight(powerIteration: Bool) throws -> Tensor {
        try spectralU.map { try weight.spectralNormalized(u: $0, powerIteration: powerIteration) } ?? weight
    }

    public var namedTensors: [NamedTensor] {
        [NamedTensor("weight", weight)] + (bias.map { [NamedTensor("bias", $0)] } ?? [])
            + (spectralU.map { [NamedTensor("weight_u", $0, isParameter: false)] } ?? [])
    }
}

/// Transposed 2-D convolution [N,C,H,W] -> [N,O,(H-1)s-2p+K,...]. Tensors: `weight` [C,O,K,K]
/// (PyTorch's ConvTranspose2d layout), `bias` [O].
public final class ConvTranspose2d: Layer {
    public let weight: Tensor
    public let bias: Tensor?
    public let stride: Int
    public let padding: Int

    public init(inputs: Int, outputs: Int, kernel: Int, stride: Int = 1, padding: Int = 0, bias: Bool = false,
                using generator: inout RandomGenerator) {
        weight = Initializer.normal([inputs, outputs, kernel, kernel], using: &generator)
        self.bias = bias ? Initializer.zeros([outputs]) : nil
        self.stride = stride
        self.padding = padding
    }

    public func callAsFunction(_ x: Tensor) throws -> Tensor {
        try x.convTranspose2d(weight: weight, bias: bias, stride: stride, padding: padding)
    }

    public var namedTensors: [NamedTensor] {
        [NamedTensor("weight", weight)] + (bias.map { [NamedTensor("bias", $0)] } ?? [])
    }
}
