import Kernels

extension Tensor {
    /// 2-D convolution of x[N,C,H,W] with weight[O,C,KH,KW] (+ bias[O]) -> [N,O,P,Q], as
    /// PyTorch's Conv2d with symmetric zero padding. Backward: data and weight gradients from oneDNN;
    /// for create-graph the same as ops: the input gradient is a transposed conv of g, the weight
    /// gradient `conv2dWeightGradient`, the bias gradient g's channel sums.
    public func conv2d(weight: Tensor, bias: Tensor? = nil, stride: Int = 1, padding: Int = 0) throws -> Tensor {
        guard rank == 4, weight.rank == 4, weight.shape[1] == shape[1] else {
            throw ShapeError("conv2d", "input \(shape) does not fit weight \(weight.shape) (expected [N, \(weight.rank == 4 ? weight.shape[1] : -1), H, W])")
        }
        let g = ConvGeometry(batch: shape[0], inChannels: shape[1], height: shape[2], width: shape[3],
                             outChannels: weight.shape[0], kernel: (weight.shape[2], weight.shape[3]),
                             stride: (stride, stride), padding: (padding, padding))
        guard stride > 0, padding >= 0, g.outHeight > 0, g.outWidth > 0 else {
            throw ShapeError("conv2d", "kernel \(weight.shape[2])x\(weight.shape[3]) stride \(stride) padding \(padding) does not fit input \(shape)")
        }
        if let bias, bias.shape != [g.outChannels] { throw ShapeError("conv2d", "bias \(bias.shape) for \(g.outChannels) outputs") }
        let out = Tensor.uninitialized(g.outputDims)
        let x = kernelArgument
        if try Conv2dKernel.forward(g, input: x.pointer, weight: weight.pointer, bias: bias?.pointer, output: out.pointer,
                                    inputBlocked: x.blocked, blockedOutput: KernelSettings.blockedActivations) {
            out.storage.markBlocked(out.shape)
        }
        var inputs = [self, weight]
        if let bias { inputs.append(bias) }
        return out.recorded(inputs, backward: { [self] grad in
            let dx = self.requiresGrad ? Tensor.uninitialized(g.inputDims) : nil
            let dy = grad.kernelArgument
            if let dx, try Conv2dKernel.backwardData(g, gradOutput: dy.pointer, weight: weight.pointer, gradInput: dx.pointer,
                                                     gradOutputBlocked: dy.blocked, blockedGradInput: KernelSettings.blockedActivations) {
                dx.storage.markBlocked(dx.shape)
            }
            // A frozen layer (the discriminator during the generator step) needs no weight gradient.
            guard weight.requiresGrad || bias?.requiresGrad == true else { return [dx, nil, nil] }
            let dw = Tensor.uninitialized(g.weightDims)
            let db = bias.map { _ in Tensor.uninitialized([g.outChannels]) }
            let x = self.kernelArgument
            try Conv2dKernel.backwardWeights(g, input: x.pointer, gradOutput: dy.pointer, gradWeight: dw.pointer, gradBias: db?.pointer,
                                             inputBlocked: x.blocked, gradOutputBlocked: dy.blocked)
            return [dx, dw, db]
        }, differentiable: { [self] grad, needs in
            [needs[0] ? try grad.convTranspose2d(weight: weight, stride: stride, padding: padding, outputPadding: g.leftover) : nil,
             needs[1] ? try Tensor.conv2dWeightGradient(input: self, gradOutput: grad, kernel: (g.kernelHeight, g.kernelWidth),
                                                        stride: stride, padding: padding) : nil]
                + (bias == nil ? [] : [needs[2] ? try grad.channelSumsRecorded() : nil])
        })
    }
}

extension ConvGeometry {
    /// Input rows and columns past the last window (with stride > 1): the output padding of the
    /// transposed conv that gives back the input's size.
    var leftover: (height: Int, width: Int) {
        ((height + 2 * padHeight - kernelHeight) % strideHeight, (width + 2 * padWidth - kernelWidth) % strideWidth)
    }
}
