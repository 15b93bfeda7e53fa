extension Tensor {
    /// Concatenates tensors [N,C_i,...] along the channel axis (dim 1) -> [N, sum C_i, ...].
    public static func concatChannels(_ parts: [Tensor]) throws -> Tensor {
        guard let first = parts.first, first.rank >= 2 else { throw ShapeError("concat", "needs tensors of rank >= 2") }
        let n = first.shape[0], rest = Array(first.shape.dropFirst(2)), plane = rest.reduce(1, *)
        for p in parts where p.rank != first.rank || p.shape[0] != n || Array(p.shape.dropFirst(2)) != rest {
            throw ShapeError("concat", "shapes \(parts.map(\.shape)) differ outside the channel axis")
        }
        let channels = parts.map { $0.shape[1] }, total = channels.reduce(0, +)
        let out = Tensor.uninitialized([n, total] + rest)
        for b in 0..<n {
            var offset = 0
            for (p, c) in zip(parts, channels) {
                (out.pointer + (b * total + offset) * plane).update(from: p.pointer + b * c * plane, count: c * plane)
                offset += c
            }
        }
        let shapes = parts.map(\.shape)  // not the parts: their values are not needed
        return out.recorded(parts) { g in
            var offset = 0
            return zip(shapes, channels).map { shape, c in
                let d = Tensor.uninitialized(shape)
                for b in 0..<n { d.pointer.advanced(by: b * c * plane).update(from: g.pointer + (b * total + offset) * plane, count: c * plane) }
                offset += c
                return d
            }
        }
    }
}
