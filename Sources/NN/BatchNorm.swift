import Autograd

/// Batch normalisation over channels of [N,C] or [N,C,H,W]. Tensors: `weight` (scale) and `bias`
/// (shift) trained; `running_mean`, `running_var` buffers (PyTorch's state_dict names).
/// `training` is explicit at every call: sampling and evaluation pass false.
public final class BatchNorm: Layer {
    public let weight: Tensor
    public let bias: Tensor
    public let runningMean: Tensor
    public let runningVariance: Tensor
    public let momentum: Float
    public let epsilon: Float

    public init(channels: Int, momentum: Float = 0.1, epsilon: Float = 1e-5, using generator: inout RandomGenerator) {
        weight = Initializer.normal([channels], mean: 1, standardDeviation: 0.02, using: &generator)
        bias = Initializer.zeros([channels])
        runningMean = Tensor(repeating: 0, shape: [channels])
        runningVariance = Tensor(repeating: 1, shape: [channels])
        self.momentum = momentum
        self.epsilon = epsilon
    }

    public func callAsFunction(_ x: Tensor, training: Bool) throws -> Tensor {
        try x.batchNorm(scale: weight, shift: bias, runningMean: runningMean, runningVariance: runningVariance,
                        training: training, momentum: momentum, epsilon: epsilon)
    }

    public var namedTensors: [NamedTensor] {
        [NamedTensor("weight", weight), NamedTensor("bias", bias),
         NamedTensor("running_mean", runningMean, isParameter: false),
         NamedTensor("running_var", runningVariance, isParameter: false)]
    }
}
