extension Tensor {
    /// Concatenates tensors [N,C_i,...] along the channel axis (dim 1) -> [N, sum C_i, ...].
    /// Each part's gradient is its channels of g (`slicedChannels`).
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
        var ranges: [Range<Int>] = [], offset = 0  // not the parts: their values are not needed
        for c in channels { ranges.append(offset..<(offset + c)); offset += c }
        return out.recorded(parts, backwardRecords: true, backward: { g in try ranges.map { try g.slicedChannels($0) } })
    }

    /// Channels `range` of x [N, C, ...] -> [N, range.count, ...]: `concatChannels`'s backward. Its
    /// gradient is g with zeros for the other channels (a concatenation).
    func slicedChannels(_ range: Range<Int>) throws -> Tensor {
        guard rank >= 2, range.lowerBound >= 0, range.upperBound <= shape[1] else {
            throw ShapeError("sliceChannels", "channels \(range) outside \(shape)")
        }
        let (n, total, c) = (shape[0], shape[1], range.count), plane = Array(shape.dropFirst(2)).reduce(1, *)
        let out = Tensor.uninitialized([n, c] + shape.dropFirst(2))
        for b in 0..<n {
            (out.pointer + b * c * plane).update(from: pointer + (b * total + range.lowerBound) * plane, count: c * plane)
        }
        let inputShape = shape
        return out.recorded([self], backwardRecords: true, backward: { g in
            func zeros(_ channels: Int) -> Tensor? {
                channels > 0 ? Tensor(repeating: 0, shape: [n, channels] + inputShape.dropFirst(2)) : nil
            }
            let parts = [zeros(range.lowerBound), g, zeros(total - range.upperBound)].compactMap { $0 }
            return [try Tensor.concatChannels(parts)]
        })
    }
}
