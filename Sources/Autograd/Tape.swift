/// Where the gradient of one op input goes: on to the node that made the input, into the `grad`
/// of a leaf that requires one, or nowhere.
enum Edge {
    case node(Node)
    case leaf(Tensor)
    case none
}

/// An op's backward: the output's gradient -> each input's gradient (nil where none is needed).
typealias Backward = (Tensor) throws -> [Tensor?]

/// The same derivative for `gradients(createGraph: true)`, computed with recorded ops so that the
/// result is itself on the tape and can be differentiated again. `needs[i]` says whether input i's
/// gradient is wanted (a conv asked only for its input's gradient skips its weight's).
typealias DifferentiableBackward = (_ grad: Tensor, _ needs: [Bool]) throws -> [Tensor?]

/// How a tensor was made: where its inputs' gradients go and the function from the output's
/// gradient to the inputs' gradients (nil where an input needs none). A node holds its inputs'
/// nodes, not the input tensors: an intermediate result is freed as soon as neither the caller nor
/// a backward closure needs its values (ReLU keeps its output's storage, not its input), as in
/// PyTorch's autograd. Backward closures capture storages or inputs, never the output tensor.
///
/// `backward` is what `backward()` runs, on raw kernels with nothing recorded. For
/// `gradients(createGraph: true)` the node needs its derivative in recorded ops: `backward`
/// itself where that is written in recorded ops (`backwardRecords`), else `differentiable`;
/// an op with neither cannot be differentiated twice and says so, by `op` name.
final class Node {
    private(set) var edges: [Edge]
    private(set) var backward: Backward?
    private(set) var differentiable: DifferentiableBackward?
    let backwardRecords: Bool
    /// The function that recorded the node (`#function` of the op), for errors.
    let op: StaticString

    init(edges: [Edge], op: StaticString, backward: @escaping Backward, backwardRecords: Bool = false,
         differentiable: DifferentiableBackward? = nil) {
        self.edges = edges
        self.op = op
        self.backward = backward
        self.backwardRecords = backwardRecords
        self.differentiable = differentiable
    }

    /// Drops the closures and the edges, and with them the saved values (after this node's backward).
    func release() {
        backward = nil
        differentiable = nil
        edges = []
    }

    /// The input gradients as recorded ops (create-graph mode; recording must be on).
    func differentiate(_ grad: Tensor, needs: [Bool]) throws -> [Tensor?] {
        guard let backward else { throw GraphFreedError() }
        if backwardRecords { return try backward(grad) }
        guard let differentiable else { throw DoubleBackwardError(op: op) }
        return try differentiable(grad, needs)
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
/// backward pass itself); on inside `gradients(createGraph: true)`.
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

/// `gradients(createGraph: true)` reached an op whose backward is not written in recorded ops, so
/// its gradient could not be differentiated again (rather than return it silently detached).
public struct DoubleBackwardError: Error, CustomStringConvertible {
    /// The op's function name, e.g. "batchNorm".
    public let op: String

    init(op: StaticString) {
        let name = "\(op)"
        self.op = String(name.prefix { $0 != "(" })
    }

    public var description: String {
        "gradients(createGraph: true): \(op) has no double backward, so a gradient through it cannot be differentiated again"
    }
}

extension Tensor {
    /// Attaches the op that made `self` when gradients are being recorded and some input needs one.
    /// Returns `self` so ops can end with `return out.recorded(...) { g in ... }`.
    ///
    /// `backward` runs on raw kernels with nothing recorded, and that alone gives the op no double
    /// backward (`DoubleBackwardError`). `backwardRecords`: `backward` is written in recorded ops, so
    /// `gradients(createGraph: true)` runs it recording and its result differentiates again.
    /// `differentiable`: the same derivative in recorded ops, beside a faster `backward`.
    func recorded(_ inputs: [Tensor], op: StaticString = #function, backwardRecords: Bool = false,
                  backward: @escaping Backward, differentiable: DifferentiableBackward? = nil) -> Tensor {
        guard GradientMode.isEnabled, inputs.contains(where: { $0.requiresGrad }) else { return self }
        requiresGrad = true
        let edges: [Edge] = inputs.map { input in
            if let node = input.node { return .node(node) }
            return input.requiresGrad ? .leaf(input) : .none
        }
        node = Node(edges: edges, op: op, backward: backward, backwardRecords: backwardRecords, differentiable: differentiable)
        return self
    }

    /// The nodes `root` depends on, each after all of its inputs (an iterative post-order DFS:
    /// deep graphs cannot overflow the stack).
    private static func topologicalOrder(from root: Node) -> [Node] {
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
        return order
    }

    private func checkedSeed(_ seed: Tensor?, _ op: String) throws -> Tensor {
        if let seed, seed.shape != shape {
            throw ShapeError(op, "seed shape \(seed.shape) differs from tensor shape \(shape)")
        }
        return seed ?? Tensor(repeating: 1, shape: shape)
    }

    /// Reverse-mode differentiation from this tensor. `seed` defaults to ones (for a scalar loss).
    /// Gradients accumulate into the `grad` of every leaf that requires one. Each node's saved
    /// values are freed as soon as its backward has run, so memory falls during the pass.
    ///
    /// `ready`, when given, is called with each leaf as soon as the pass has added its whole
    /// gradient to the leaf's `grad` (no node left in the pass reads that leaf), in the order the
    /// pass completes them: data-parallel training starts averaging those gradients across ranks
    /// while the rest of the pass runs.
    public func backward(seed: Tensor? = nil, ready: ((Tensor) throws -> Void)? = nil) throws {
        let seed = try checkedSeed(seed, "backward")
        guard let root = node else {
            if requiresGrad {
                accumulateGrad(seed)
                try ready?(self)
            }
            return
        }
        node = nil
        let order = Array(Self.topologicalOrder(from: root).reversed())
        // With `ready`: the leaves whose last reader is the node at each position of the pass, in
        // the order of that node's edges, so every process that builds the same graph reports the
        // same leaves in the same order (data-parallel ranks start their reductions in step).
        var completedAt: [Int: [ObjectIdentifier]] = [:]
        if ready != nil {
            var lastReader: [ObjectIdentifier: Int] = [:]
            for (position, n) in order.enumerated() {
                for case .leaf(let leaf) in n.edges { lastReader[ObjectIdentifier(leaf)] = position }
            }
            for (position, n) in order.enumerated() {
                for case .leaf(let leaf) in n.edges where lastReader[ObjectIdentifier(leaf)] == position {
                    lastReader[ObjectIdentifier(leaf)] = nil  // a node reading a leaf twice lists it once
                    completedAt[position, default: []].append(ObjectIdentifier(leaf))
                }
            }
        }

        var leafGrads: [ObjectIdentifier: (leaf: Tensor, grad: Tensor)] = [:]
        try withoutGradients {
            var grads: [ObjectIdentifier: Tensor] = [ObjectIdentifier(root): seed]
            for (position, n) in order.enumerated() {
                if let grad = grads.removeValue(forKey: ObjectIdentifier(n)) {
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
                guard let ready, let leaves = completedAt[position] else { continue }
                for key in leaves {
                    guard let (leaf, grad) = leafGrads.removeValue(forKey: key) else { continue }
                    leaf.accumulateGrad(grad)
                    try ready(leaf)
                }
            }
        }
        for (leaf, grad) in leafGrads.values { leaf.accumulateGrad(grad) }
    }

    /// d(output)/d(input) for each of `inputs` (leaves or intermediate results of `output`'s
    /// graph), as PyTorch's `torch.autograd.grad`: the gradient of sum(seed * output), `seed`
    /// ones by default; zeros for an input `output` does not depend on. Leaves' `grad` is left
    /// alone and the graph is kept, so `backward()` can follow (as the gradient penalties do).
    /// Only nodes on a path to an input run.
    ///
    /// `createGraph`: the gradients are computed with recorded ops and are on the tape, so a loss
    /// made from them (a gradient penalty) differentiates back to the parameters: second order.
    /// An op without a double backward on the way throws `DoubleBackwardError` naming it.
    public static func gradients(of output: Tensor, withRespectTo inputs: [Tensor], seed: Tensor? = nil,
                                 createGraph: Bool = false) throws -> [Tensor] {
        let seed = try output.checkedSeed(seed, "gradients")
        guard let root = output.node else {
            return inputs.map { $0 === output ? seed : Tensor(repeating: 0, shape: $0.shape) }
        }
        let order = topologicalOrder(from: root)
        let leafTargets = Set(inputs.filter { $0.node == nil }.map(ObjectIdentifier.init))
        let nodeTargets = Set(inputs.compactMap(\.node).map(ObjectIdentifier.init))
        // Inputs come before the nodes that read them in `order`.
        var leadsToInput = Set<ObjectIdentifier>()
        func leads(_ edge: Edge) -> Bool {
            switch edge {
            case .node(let n): return leadsToInput.contains(ObjectIdentifier(n))
            case .leaf(let t): return leafTargets.contains(ObjectIdentifier(t))
            case .none: return false
            }
        }
        for n in order where nodeTargets.contains(ObjectIdentifier(n)) || n.edges.contains(where: leads) {
            leadsToInput.insert(ObjectIdentifier(n))
        }

        func sum(_ a: Tensor?, _ b: Tensor) throws -> Tensor {
            guard let a else { return b }
            return createGraph ? try a.adding(b) : a + b
        }
        var grads: [ObjectIdentifier: Tensor] = [ObjectIdentifier(root): seed]
        var found: [ObjectIdentifier: Tensor] = [:]  // by leaf tensor or by node
        let saved = GradientMode.isEnabled
        GradientMode.isEnabled = createGraph
        defer { GradientMode.isEnabled = saved }
        for n in order.reversed() where leadsToInput.contains(ObjectIdentifier(n)) {
            guard let grad = grads.removeValue(forKey: ObjectIdentifier(n)) else { continue }
            if nodeTargets.contains(ObjectIdentifier(n)) { found[ObjectIdentifier(n)] = grad }
            let needs = n.edges.map(leads)
            guard needs.contains(true) else { continue }
            let inputGrads: [Tensor?]
            if createGraph {
                inputGrads = try n.differentiate(grad, needs: needs)
            } else {
                guard let backward = n.backward else { throw GraphFreedError() }
                inputGrads = try backward(grad)
            }
            for ((edge, need), inputGrad) in zip(zip(n.edges, needs), inputGrads) where need {
                guard let inputGrad else { continue }
                switch edge {
                case .node(let input): grads[ObjectIdentifier(input)] = try sum(grads[ObjectIdentifier(input)], inputGrad)
                case .leaf(let leaf): found[ObjectIdentifier(leaf)] = try sum(found[ObjectIdentifier(leaf)], inputGrad)
                case .none: break
                }
            }
        }
        return inputs.map { input in
            let key = input.node.map(ObjectIdentifier.init) ?? ObjectIdentifier(input)
            return found[key] ?? Tensor(repeating: 0, shape: input.shape)
        }
    }

    /// Adds to a leaf's gradient; a first gradient is a private copy, so later in-place
    /// accumulation cannot alias another gradient.
    private func accumulateGrad(_ g: Tensor) { grad = grad.map { $0 + g } ?? g.detached() }

    /// Forgets the accumulated gradient (before an optimizer's next step).
    public func zeroGrad() { grad = nil }
}
