/// How a tensor was made: the op's inputs and the function from the output's gradient to the
/// inputs' gradients (nil where an input needs none). Backward closures capture storages, never
/// the output tensor itself, so a graph that is never differentiated frees itself.
final class Node {
    let inputs: [Tensor]
    let backward: (Tensor) throws -> [Tensor?]
    init(inputs: [Tensor], backward: @escaping (Tensor) throws -> [Tensor?]) {
        self.inputs = inputs
        self.backward = backward
    }
}

/// Whether ops record the graph. Off inside `withoutGradients` (sampling, evaluation, and the
/// backward pass itself).
public enum GradientMode {
    public internal(set) static var isEnabled = true
}

/// Runs `body` without recording gradients: tensors it makes have no graph and need no memory
/// for backward.
public func withoutGradients<T>(_ body: () throws -> T) rethrows -> T {
    let saved = GradientMode.isEnabled
    GradientMode.isEnabled = false
    defer { GradientMode.isEnabled = saved }
    return try body()
}

extension Tensor {
    /// Attaches the op that made `self` when gradients are being recorded and some input needs one.
    /// Returns `self` so ops can end with `return out.recorded(...)`.
    func recorded(_ inputs: [Tensor], backward: @escaping (Tensor) throws -> [Tensor?]) -> Tensor {
        guard GradientMode.isEnabled, inputs.contains(where: { $0.requiresGrad }) else { return self }
        requiresGrad = true
        node = Node(inputs: inputs, backward: backward)
        return self
    }

    /// Reverse-mode differentiation from this tensor. `seed` defaults to ones (for a scalar loss).
    /// Gradients accumulate into the `grad` of every leaf that requires one; the graph is freed.
    public func backward(seed: Tensor? = nil) throws {
        if let seed, seed.shape != shape {
            throw ShapeError("backward", "seed shape \(seed.shape) differs from tensor shape \(shape)")
        }
        // Iterative post-order DFS: deep graphs cannot overflow the stack.
        var order: [Tensor] = []
        var visited = Set<ObjectIdentifier>()
        var stack: [(Tensor, expanded: Bool)] = [(self, false)]
        while let (tensor, expanded) = stack.popLast() {
            if expanded { order.append(tensor); continue }
            guard visited.insert(ObjectIdentifier(tensor)).inserted else { continue }
            stack.append((tensor, true))
            for input in tensor.node?.inputs ?? [] where input.requiresGrad && !visited.contains(ObjectIdentifier(input)) {
                stack.append((input, false))
            }
        }
        defer { for tensor in order { tensor.node = nil } }

        try withoutGradients {
            var grads: [ObjectIdentifier: Tensor] = [ObjectIdentifier(self): seed ?? Tensor(repeating: 1, shape: shape)]
            for tensor in order.reversed() {
                guard let grad = grads.removeValue(forKey: ObjectIdentifier(tensor)) else { continue }
                guard let node = tensor.node else {
                    // A leaf: keep a private copy so later in-place accumulation cannot alias.
                    tensor.grad = tensor.grad.map { $0 + grad } ?? grad.detached()
                    continue
                }
                let inputGrads = try node.backward(grad)
                for (input, inputGrad) in zip(node.inputs, inputGrads) where input.requiresGrad {
                    guard let inputGrad else { continue }
                    let key = ObjectIdentifier(input)
                    grads[key] = grads[key].map { $0 + inputGrad } ?? inputGrad
                }
            }
        }
    }

    /// Forgets the accumulated gradient (before an optimizer's next step).
    public func zeroGrad() { grad = nil }
}
