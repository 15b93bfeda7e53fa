import Autograd
import Foundation

/// Updates parameters from their `.grad`. One optimizer per network; it never owns the model.
/// `stateTensors` exposes moments under stable names so checkpoints can resume exactly.
public protocol Optimizer: AnyObject {
    var learningRate: Float { get set }
    var step: Int { get set }
    func update() throws
    var stateTensors: [NamedTensor] { get }
}

/// Adam with PyTorch's semantics (torch.optim.Adam, no AMSGrad):
/// m = b1 m + (1-b1) g, v = b2 v + (1-b2) g^2, p -= lr/(1-b1^t) * m / (sqrt(v)/sqrt(1-b2^t) + eps).
public final class Adam: Optimizer {
    public let parameters: [NamedTensor]
    public var learningRate: Float
    public let beta1: Float, beta2: Float, epsilon: Float
    public var step = 0
    private let firstMoments: [Tensor]
    private let secondMoments: [Tensor]

    public init(parameters: [NamedTensor], learningRate: Float = 2e-4, betas: (Float, Float) = (0.5, 0.999),
                epsilon: Float = 1e-8) {
        self.parameters = parameters
        self.learningRate = learningRate
        (beta1, beta2) = betas
        self.epsilon = epsilon
        firstMoments = parameters.map { Tensor(repeating: 0, shape: $0.tensor.shape) }
        secondMoments = parameters.map { Tensor(repeating: 0, shape: $0.tensor.shape) }
    }

    public func update() throws {
        step += 1
        let correction1 = 1 - Foundation.pow(Double(beta1), Double(step))
        let correction2 = 1 - Foundation.pow(Double(beta2), Double(step))
        let stepSize = Float(Double(learningRate) / correction1), rootCorrection2 = Float(correction2.squareRoot())
        let (b1, b2, eps) = (beta1, beta2, epsilon)
        for (i, p) in parameters.enumerated() {
            guard let grad = p.tensor.grad else { continue }
            let (w, g, m, v) = (p.tensor.pointer, grad.pointer, firstMoments[i].pointer, secondMoments[i].pointer)
            // SIMD by hand: the scalar loop stays scalar (the four buffers might alias). The same
            // operations in the same order per element, so the same numbers.
            parallelChunks(p.tensor.count) { range in
                simdLoop(range, vector: { j in
                    let gj = load16(g, j)
                    let mj = b1 * load16(m, j) + (1 - b1) * gj, vj = b2 * load16(v, j) + (1 - b2) * gj * gj
                    store16(mj, m, j); store16(vj, v, j)
                    store16(load16(w, j) - stepSize * mj / (vj.squareRoot() / rootCorrection2 + eps), w, j)
                }, scalar: { j in
                    m[j] = b1 * m[j] + (1 - b1) * g[j]
                    v[j] = b2 * v[j] + (1 - b2) * g[j] * g[j]
                    w[j] -= stepSize * m[j] / (v[j].squareRoot() / rootCorrection2 + eps)
                })
            }
        }
    }

    public var stateTensors: [NamedTensor] {
        parameters.indices.flatMap { i in
            [NamedTensor("\(parameters[i].name).exp_avg", firstMoments[i], isParameter: false),
             NamedTensor("\(parameters[i].name).exp_avg_sq", secondMoments[i], isParameter: false)]
        }
    }
}

/// Stochastic gradient descent with optional momentum (PyTorch's: b = mu b + g; p -= lr b).
public final class SGD: Optimizer {
    public let parameters: [NamedTensor]
    public var learningRate: Float
    public let momentum: Float
    public var step = 0
    private let velocities: [Tensor]

    public init(parameters: [NamedTensor], learningRate: Float, momentum: Float = 0) {
        self.parameters = parameters
        self.learningRate = learningRate
        self.momentum = momentum
        velocities = parameters.map { Tensor(repeating: 0, shape: $0.tensor.shape) }
    }

    public func update() throws {
        step += 1
        for (i, p) in parameters.enumerated() {
            guard let grad = p.tensor.grad else { continue }
            let (w, g, b) = (p.tensor.pointer, grad.pointer, velocities[i].pointer)
            for j in 0..<p.tensor.count {
                // PyTorch starts the buffer at the first gradient, which equals 0 * mu + g.
                b[j] = momentum * b[j] + g[j]
                w[j] -= learningRate * (momentum == 0 ? g[j] : b[j])
            }
        }
    }

    public var stateTensors: [NamedTensor] {
        momentum == 0 ? [] : parameters.indices.map {
            NamedTensor("\(parameters[$0].name).momentum_buffer", velocities[$0], isParameter: false)
        }
    }
}
