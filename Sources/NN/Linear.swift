import Autograd

/// y[N,O] = x[N,I] W[O,I]^T + b[O]. Tensors: `weight`, `bias` (PyTorch nn.Linear names).
public final class Linear: Layer {
    public let weight: Tensor
    public let bias: Tensor?

    public init(inputs: Int, outputs: Int, bias: Bool = true, using generator: inout RandomGenerator) {
        weight = Initializer.normal([outputs, inputs], using: &generator)
        self.bias = bias ? Initializer.zeros([outputs]) : nil
    }

    public func callAsFunction(_ x: Tensor) throws -> Tensor { try x.linear(weight: weight, bias: bias) }

    public var namedTensors: [NamedTensor] {
        [NamedTensor("weight", weight)] + (bias.map { [NamedTensor("bias", $0)] } ?? [])
    }
}
