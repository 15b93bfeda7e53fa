import Kernels

extension Tensor {
    /// Batch normalisation of x[N,C] (BatchNorm1d) or x[N,C,H,W] (BatchNorm2d) with scale[C] and
    /// shift[C]. Training normalises with the batch's statistics and updates the running ones in
    /// place as PyTorch does (momentum 0.1, unbiased variance); eval uses the running statistics.
    public func batchNorm(scale: Tensor, shift: Tensor, runningMean: Tensor, runningVariance: Tensor,
                          training: Bool, momentum: Float = 0.1, epsilon: Float = 1e-5) throws -> Tensor {
        guard rank == 2 || rank == 4 else { throw ShapeError("batchNorm", "expected [N, C] or [N, C, H, W], got \(shape)") }
        let c = shape[1]
        for (name, t) in [("scale", scale), ("shift", shift), ("running mean", runningMean), ("running variance", runningVariance)]
        where t.shape != [c] {
            throw ShapeError("batchNorm", "\(name) has shape \(t.shape), expected [\(c)] for input \(shape)")
        }
        let g = BatchNormKernel.Geometry(batch: shape[0], channels: c, height: rank == 4 ? shape[2] : 1,
                                         width: rank == 4 ? shape[3] : 1, epsilon: epsilon)
        let perChannel = g.batch * g.height * g.width
        if training && perChannel < 2 {
            throw ShapeError("batchNorm", "training needs more than one value per channel, got input \(shape)")
        }
        let out = Tensor.uninitialized(shape)
        let x = kernelArgument
        guard training else {
            if try BatchNormKernel.forwardInference(g, input: x.pointer, scale: scale.pointer, shift: shift.pointer,
                                                    mean: runningMean.pointer, variance: runningVariance.pointer,
                                                    output: out.pointer, inputBlocked: x.blocked, blockedOutput: KernelSettings.blockedActivations) {
                out.storage.markBlocked(shape)
            }
            return out.recorded([self, scale, shift]) { [self] grad in
                try evalBackward(grad, g, scale: scale, mean: runningMean, variance: runningVariance)
            }
        }
        if let sum = BatchNormSynchronization.sumAcrossReplicas {
            return try synchronizedBatchNorm(g, scale: scale, shift: shift, runningMean: runningMean, runningVariance: runningVariance,
                                             momentum: momentum, sum: sum)
        }
        let mean = Tensor.uninitialized([c]), variance = Tensor.uninitialized([c])
        if try BatchNormKernel.forwardTraining(g, input: x.pointer, scale: scale.pointer, shift: shift.pointer,
                                               output: out.pointer, mean: mean.pointer, variance: variance.pointer,
                                               inputBlocked: x.blocked, blockedOutput: KernelSettings.blockedActivations) {
            out.storage.markBlocked(shape)
        }
        let unbias = Float(perChannel) / Float(perChannel - 1)
        for i in 0..<c {
            runningMean.pointer[i] = (1 - momentum) * runningMean.pointer[i] + momentum * mean.pointer[i]
            runningVariance.pointer[i] = (1 - momentum) * runningVariance.pointer[i] + momentum * variance.pointer[i] * unbias
        }
        return out.recorded([self, scale, shift]) { [self] grad in
            let dx = Tensor.uninitialized(shape), dscale = Tensor.uninitialized([c]), dshift = Tensor.uninitialized([c])
            let x = kernelArgument, dy = grad.kernelArgument
            if try BatchNormKernel.backward(g, input: x.pointer, mean: mean.pointer, variance: variance.pointer, scale: scale.pointer,
                                            gradOutput: dy.pointer, gradInput: dx.pointer, gradScale: dscale.pointer,
                                            gradShift: dshift.pointer, inputBlocked: x.blocked, gradOutputBlocked: dy.blocked,
                                            blockedGradInput: KernelSettings.blockedActivations) {
                dx.storage.markBlocked(shape)
            }
            return [dx, dscale, dshift]
        }
    }

    /// Training batch norm over the global batch of several data-parallel replicas: per-channel
    /// sums [sum x, sum x^2, count] are summed across replicas in the forward pass, and
    /// [sum dy, sum dy (x - mean)] in the backward pass, so dx is the gradient of the sum of every
    /// replica's loss. dscale and dshift stay this replica's share (the trainer averages them
    /// with the other gradients). Plain loops in Double: only `train.sync_batchnorm` runs them.
    private func synchronizedBatchNorm(_ g: BatchNormKernel.Geometry, scale: Tensor, shift: Tensor, runningMean: Tensor,
                                       runningVariance: Tensor, momentum: Float,
                                       sum: @escaping (inout [Double]) throws -> Void) throws -> Tensor {
        let (n, c, plane) = (g.batch, g.channels, g.height * g.width)
        let x = pointer
        var sums = [Double](repeating: 0, count: 2 * c + 1)
        for i in 0..<n { for ch in 0..<c {
            let row = x + (i * c + ch) * plane
            var s = 0.0, q = 0.0
            for j in 0..<plane { let v = Double(row[j]); s += v; q += v * v }
            sums[ch] += s; sums[c + ch] += q
        } }
        sums[2 * c] = Double(n * plane)
        try sum(&sums)
        let count = sums[2 * c]
        guard count > 1 else { throw ShapeError("batchNorm", "training needs more than one value per channel across replicas") }
        let mean = Tensor.uninitialized([c]), variance = Tensor.uninitialized([c])
        for ch in 0..<c {
            let m = sums[ch] / count
            mean.pointer[ch] = Float(m)
            variance.pointer[ch] = Float(Swift.max(sums[c + ch] / count - m * m, 0))
        }
        let out = Tensor.uninitialized(shape)
        if try BatchNormKernel.forwardInference(g, input: x, scale: scale.pointer, shift: shift.pointer, mean: mean.pointer,
                                                variance: variance.pointer, output: out.pointer) {
            out.storage.markBlocked(shape)
        }
        let unbias = Float(count / (count - 1))
        for i in 0..<c {
            runningMean.pointer[i] = (1 - momentum) * runningMean.pointer[i] + momentum * mean.pointer[i]
            runningVariance.pointer[i] = (1 - momentum) * runningVariance.pointer[i] + momentum * variance.pointer[i] * unbias
        }
        return out.recorded([self, scale, shift]) { [self] grad in
            let (x, dy) = (pointer, grad.pointer)
            var sums = [Double](repeating: 0, count: 2 * c)
            for i in 0..<n { for ch in 0..<c {
                let offset = (i * c + ch) * plane, m = Double(mean.pointer[ch])
                var s = 0.0, p = 0.0
                for j in 0..<plane { let d = Double(dy[offset + j]); s += d; p += d * (Double(x[offset + j]) - m) }
                sums[ch] += s; sums[c + ch] += p
            } }
            let dscale = Tensor.uninitialized([c]), dshift = Tensor.uninitialized([c])
            for ch in 0..<c {
                let inverse = 1 / (Double(variance.pointer[ch]) + Double(g.epsilon)).squareRoot()
                dshift.pointer[ch] = Float(sums[ch])
                dscale.pointer[ch] = Float(sums[c + ch] * inverse)
            }
            try sum(&sums)
            let dx = Tensor.uninitialized(shape)
            for i in 0..<n { for ch in 0..<c {
                let offset = (i * c + ch) * plane, m = Double(mean.pointer[ch])
                let inverse = 1 / (Double(variance.pointer[ch]) + Double(g.epsilon)).squareRoot()
                let meanGrad = sums[ch] / count, projection = sums[c + ch] * inverse * inverse / count
                let factor = Double(scale.pointer[ch]) * inverse
                for j in 0..<plane {
                    let centred = Double(x[offset + j]) - m
                    dx.pointer[offset + j] = Float(factor * (Double(dy[offset + j]) - meanGrad - centred * projection))
                }
            } }
            return [dx, dscale, dshift]
        }
    }

    /// With fixed statistics the op is affine per channel: dx = g * scale / sigma.
    private func evalBackward(_ grad: Tensor, _ g: BatchNormKernel.Geometry, scale: Tensor, mean: Tensor,
                              variance: Tensor) throws -> [Tensor?] {
        let plane = g.height * g.width
        let dx = Tensor.uninitialized(shape), dscale = Tensor(repeating: 0, shape: [g.channels])
        let dshift = Tensor(repeating: 0, shape: [g.channels])
        let (x, dy, d) = (pointer, grad.pointer, dx.pointer)
        let (sc, m, v, ds, dt) = (scale.pointer, mean.pointer, variance.pointer, dscale.pointer, dshift.pointer)
        for n in 0..<g.batch { for c in 0..<g.channels {
            let inv = 1 / (v[c] + g.epsilon).squareRoot()
            for i in 0..<plane {
                let j = (n * g.channels + c) * plane + i
                d[j] = dy[j] * sc[c] * inv
                ds[c] += dy[j] * (x[j] - m[c]) * inv
                dt[c] += dy[j]
            }
        } }
        return [dx, dscale, dshift]
    }
}

/// `train.sync_batchnorm` on several data-parallel ranks: while set, training batch norm sums its
/// per-channel statistics across the ranks with this function (an in-place allreduce of a Double
/// buffer), so every rank normalises with the global batch's statistics. The trainer sets it for
/// the duration of its steps only; nil (always, on one rank) is ordinary batch norm.
public enum BatchNormSynchronization {
    nonisolated(unsafe) public static var sumAcrossReplicas: ((inout [Double]) throws -> Void)?
}
