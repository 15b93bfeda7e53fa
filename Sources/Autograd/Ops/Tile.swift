extension Tensor {
    /// Repeats a vector per example over a spatial grid: [N,C] -> [N,C,H,W] (how StackGAN joins a
    /// caption code to image features). The gradient sums over the grid (`rowSums`).
    public func tiled(height: Int, width: Int) throws -> Tensor {
        guard rank == 2, height > 0, width > 0 else { throw ShapeError("tile", "expected [N, C] and a positive grid, got \(shape) to \(height)x\(width)") }
        let plane = height * width
        let out = Tensor.uninitialized([shape[0], shape[1], height, width])
        for i in 0..<count { (out.pointer + i * plane).initialize(repeating: pointer[i], count: plane) }
        let inputShape = shape
        return out.recorded([self], backwardRecords: true, backward: { g in
            [try g.reshaped([inputShape[0] * inputShape[1], plane]).rowSums().reshaped(inputShape)]
        })
    }
}
