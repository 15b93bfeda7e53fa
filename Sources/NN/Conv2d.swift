import Autograd

/// 2-D convolution [N,C,H,W] -> [N,O,P,Q] with a square kernel. Tensors: `weight` [O,C,K,K],
/// `bias` [O] (StackGAN's convs have none).
public final class Conv2d: Layer {
    public let weight: Tensor
    public let bias: Tensor?
    public let stride: Int
    public let padding: Int

    public init(inputs: Int, outputs: Int, kernel: Int, stride: Int = 1, padding: Int = 0, bias: Bool = false,
                using generator: inout RandomGenerator) {
        weight = Initializer.normal([outputs, inputs, kernel, kernel], using: &generator)
        self.bias = bias ? Initializer.zeros([outputs]) : nil
        self.stride = stride
        self.padding = padding
    }

    public func callAsFunction(_ x: Tensor) throws -> Tensor {
        try x.conv2d(weight: weight, bias: bias, stride: stride, padding: padding)
    }

    public var namedTensors: [NamedTensor] {
        [NamedTensor("weight", weight)] + (bias.map { [NamedTensor("bias", $0)] } ?? [])
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
