extension Tensor {
    /// The same values under another shape (shares storage). One dimension may be -1.
    public func reshaped(_ newShape: [Int]) throws -> Tensor {
        var resolved = newShape
        if let inferred = newShape.firstIndex(of: -1) {
            let known = newShape.enumerated().filter { $0.offset != inferred }.map(\.element).reduce(1, *)
            guard known > 0, count % known == 0 else { throw ShapeError("reshape", "cannot reshape \(shape) to \(newShape)") }
            resolved[inferred] = count / known
        }
        guard resolved.allSatisfy({ $0 >= 0 }), resolved.reduce(1, *) == count else {
            throw ShapeError("reshape", "cannot reshape \(shape) (\(count) values) to \(newShape)")
        }
        let inputShape = shape
        return Tensor(shape: resolved, storage: storage).recorded([self], backwardRecords: true, backward: { g in [try g.reshaped(inputShape)] })
    }
}
