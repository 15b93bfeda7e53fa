import Autograd

/// y[N,O] = x[N,I] W[O,I]^T + b[O]. Tensors: `weight`, `bias` (PyTorch nn.Linear names).
/// With spectral normalisation, `weight_u` [O] holds its power-iteration vector (see Conv2d).
public final class Linear: Layer {
    public let weight: Tensor
    public let bias: Tensor?
    public let spectralU: Tensor?

    public init(inputs: Int, outputs: Int, bias: Bool = true, spectralNorm: Bool = false,
                using generator: inout RandomGenerator) {
        weight = Initializer.normal([outputs, inputs], using: &generator)
        self.bias = bias ? Initializer.zeros([outputs]) : nil
        spectralU = spectralNorm ? Initializer.unitVector(outputs, using: &generator) : nil
    }

    /// A linear layer with given `weight` [O, I] and `bias` [O] (loaded weights: an inference model).
    public init(weight: Tensor, bias: Tensor?) {
        self.weight = weight
        self.bias = bias
        spectralU = nil
    }

    /// `training` advances spectral normalisation's power iteration (no effect on a plain linear).
    public func callAsFunction(_ x: Tensor, training: Bool = false) throws -> Tensor {
        let w = try effectiveWeight(powerIteration: training)
        return try x.linear(weight: w, bias: bias)
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
