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
