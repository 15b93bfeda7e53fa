import Autograd

/// A tensor of a layer with its stable dotted name (the checkpoint key, equal to the PyTorch
/// state_dict key of the reference module). Buffers (running statistics) are saved but not trained.
public struct NamedTensor {
    public let name: String
    public let tensor: Tensor
    public let isParameter: Bool
    public init(_ name: String, _ tensor: Tensor, isParameter: Bool = true) {
        self.name = name; self.tensor = tensor; self.isParameter = isParameter
    }
}

/// Anything that owns tensors. Composite layers list their children's tensors under a prefix.
public protocol Layer: AnyObject {
    var namedTensors: [NamedTensor] { get }
}

extension Layer {
    /// The trainable tensors, in a stable order (the optimizer's order).
    public var parameters: [NamedTensor] { namedTensors.filter(\.isParameter) }

    /// This layer's tensors with `prefix.` in front of every name.
    public func namedTensors(prefix: String) -> [NamedTensor] {
        namedTensors.map { NamedTensor(prefix.isEmpty ? $0.name : "\(prefix).\($0.name)", $0.tensor, isParameter: $0.isParameter) }
    }

    /// Turns gradient tracking on or off for every parameter (freezing Stage-I under Stage-II).
    public func setTrainable(_ trainable: Bool) {
        for p in parameters { p.tensor.requiresGrad = trainable; p.tensor.grad = nil }
    }

    public func zeroGrad() { for p in parameters { p.tensor.grad = nil } }
}

/// Initialisers of the published models: conv/linear weights N(0, 0.02), BN scale N(1, 0.02), shift 0.
public enum Initializer {
    public static func normal(_ shape: [Int], mean: Float = 0, standardDeviation: Float = 0.02,
                              using generator: inout RandomGenerator) -> Tensor {
        Tensor.randomNormal(shape, mean: mean, standardDeviation: standardDeviation, requiresGrad: true, using: &generator)
    }
    public static func zeros(_ shape: [Int]) -> Tensor { Tensor(repeating: 0, shape: shape, requiresGrad: true) }
    /// A unit-length N(0, 1) direction [count], not trained (spectral normalisation's u).
    public static func unitVector(_ count: Int, using generator: inout RandomGenerator) -> Tensor {
        let u = Tensor.randomNormal([count], using: &generator)
        let norm = Swift.max(u.scalars.reduce(0) { $0 + $1 * $1 }.squareRoot(), 1e-12)
        return u.scaled(by: 1 / norm)
    }
}
