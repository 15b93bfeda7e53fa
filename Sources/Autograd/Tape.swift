/// Where the gradient of one op input goes: on to the node that made the input, into the `grad`
/// of a leaf that requires one, or nowhere.
enum Edge {
    case node(Node)
    case leaf(Tensor)
    case none
}

/// How a tensor was made: where its inputs' gradients go and the function from the output's
/// gradient to the inputs' gradients (nil where an input needs none). A node holds its inputs'
/// nodes, not the input tensors: an intermediate result is freed as soon as neither the caller nor
/// a backward closure needs its values (ReLU keeps its output's storage, not its input), as in
/// PyTorch's autograd. Backward closures capture storages or inputs, never the output tensor.
final class Node {
    private(set) var edges: [Edge]
    private(set) var backward: ((Tensor) throws -> [Tensor?])?

    init(edges: [Edge], backward: @escaping (Tensor) throws -> [Tensor?]) {
        self.edges = edges
        self.backward = backward
    }

    /// Drops the closure and the edges, and with them the saved values (after this node's backward).
    func release() {
        backward = nil
        edges = []
    }

    /// Frees a chain of nodes without recursion: releasing a deep graph one deinit inside the next
    /// would overflow the stack. Each input node that only this one held gives up its edges to this
    /// loop before it goes.
    deinit {
        var pending: [Node] = []
        for case .node(let n) in edges { pending.append(n) }
        edges = []
        while var n = pending.popLast() {
            guard isKnownUniquelyReferenced(&n) else { continue }
            for case .node(let m) in n.edges { pending.append(m) }
            n.edges = []
        }
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

/// `backward()` reached a node whose saved values an earlier backward pass already freed.
public struct GraphFreedError: Error, CustomStringConvertible {
    public var description: String {
        "backward: part of this graph was already differentiated and freed; recompute it for a second pass"
    }
}

extension Tensor {
    /// Attaches the op that made `self` when gradients are being recorded and some input needs one.
    /// Returns `self` so ops can end with `return out.recorded(...)`.
    func recorded(_ inputs: [Tensor], backward: @escaping (Tensor) throws -> [Tensor?]) -> Tensor {
        guard GradientMode.isEnabled, inputs.contains(where: { $0.requiresGrad }) else { return self }
        requiresGrad = true
        let edges: [Edge] = inputs.map { input in
            if let node = input.node { return .node(node) }
            return input.requiresGrad ? .leaf(input) : .none
        }
        node = Node(edges: edges, backward: backward)
        return self
    }

    /// Reverse-mode differentiation from this tensor. `seed` defaults to ones (for a scalar loss).
    /// Gradients accumulate into the `grad` of every leaf that requires one. Each node's saved
    /// values are freed as soon as its backward has run, so memory falls during the pass.
    public func backward(seed: Tensor? = nil) throws {
        if let seed, seed.shape != shape {
            throw ShapeError("backward", "seed shape \(seed.shape) differs from tensor shape \(shape)")
        }
        let seed = seed ?? Tensor(repeating: 1, shape: shape)
        guard let root = node else {
            if requiresGrad { accumulateGrad(seed) }
            return
        }
        node = nil
        // Iterative post-order DFS: deep graphs cannot overflow the stack.
        var order: [Node] = []
        var visited = Set<ObjectIdentifier>()
        var stack: [(Node, expanded: Bool)] = [(root, false)]
        while let (n, expanded) = stack.popLast() {
            if expanded { order.append(n); continue }
            guard visited.insert(ObjectIdentifier(n)).inserted else { continue }
            stack.append((n, true))
            for case .node(let input) in n.edges where !visited.contains(ObjectIdentifier(input)) {
                stack.append((input, false))
            }
        }

        var leafGrads: [ObjectIdentifier: (leaf: Tensor, grad: Tensor)] = [:]
        try withoutGradients {
            var grads: [ObjectIdentifier: Tensor] = [ObjectIdentifier(root): seed]
            for n in order.reversed() {
                guard let grad = grads.removeValue(forKey: ObjectIdentifier(n)) else { continue }
                guard let backward = n.backward else { throw GraphFreedError() }
                let inputGrads = try backward(grad)
                let edges = n.edges
                n.release()
                for (edge, inputGrad) in zip(edges, inputGrads) {
                    guard let inputGrad else { continue }
                    switch edge {
                    case .node(let input):
                        let key = ObjectIdentifier(input)
                        grads[key] = grads[key].map { $0 + inputGrad } ?? inputGrad
                    case .leaf(let leaf):
                        let key = ObjectIdentifier(leaf)
                        leafGrads[key] = (leaf, leafGrads[key].map { $0.grad + inputGrad } ?? inputGrad)
                    case .none:
                        break
                    }
                }
            }
        }
        for (leaf, grad) in leafGrads.values { leaf.accumulateGrad(grad) }
    }

    /// Adds to a leaf's gradient; a first gradient is a private copy, so later in-place
    /// accumulation cannot alias another gradient.
    private func accumulateGrad(_ g: Tensor) { grad = grad.map { $0 + g } ?? g.detached() }

    /// Forgets the accumulated gradient (before an optimizer's next step).
    public func zeroGrad() { grad = nil }
}
