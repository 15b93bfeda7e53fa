import Kernels

extension Tensor {
    /// Transposed convolution of x[N,C,H,W] with weight[C,O,KH,KW] (PyTorch's ConvTranspose2d
    /// layout) -> [N,O,(H-1)s-2p+KH+a,(W-1)s-2p+KW+b], + bias[O]; `outputPadding` (a, b), each
    /// below the stride, adds rows and columns at the bottom and right (PyTorch's output_padding).
    ///
    /// It is the adjoint of the convolution that maps the output back to the input, so all three
    /// passes are convolution kernels: forward = that conv's backward-data, backward-data = its
    /// forward, weight gradient = its weight gradient with input and output swapped. With the
    /// output padding that gives a conv's input size, it is that conv's input gradient.
    public func convTranspose2d(weight: Tensor, bias: Tensor? = nil, stride: Int = 1, padding: Int = 0,
                                outputPadding: (height: Int, width: Int) = (0, 0)) throws -> Tensor {
        guard rank == 4, weight.rank == 4, weight.shape[0] == shape[1] else {
            throw ShapeError("convTranspose2d", "input \(shape) does not fit weight \(weight.shape) (expected [N, \(weight.rank == 4 ? weight.shape[0] : -1), H, W])")
        }
        let (kh, kw) = (weight.shape[2], weight.shape[3])
        let outH = (shape[2] - 1) * stride - 2 * padding + kh + outputPadding.height
        let outW = (shape[3] - 1) * stride - 2 * padding + kw + outputPadding.width
        guard stride > 0, padding >= 0, outH > 0, outW > 0, (0..<stride).contains(outputPadding.height),
              (0..<stride).contains(outputPadding.width) else {
            throw ShapeError("convTranspose2d", "kernel \(kh)x\(kw) stride \(stride) padding \(padding) output padding \(outputPadding) does not fit input \(shape)")
        }
        let outChannels = weight.shape[1]
        if let bias, bias.shape != [outChannels] { throw ShapeError("convTranspose2d", "bias \(bias.shape) for \(outChannels) outputs") }
        // The adjoint convolution: input [N,O,outH,outW] -> output [N,C,H,W], weight [C,O,KH,KW].
        let adjoint = ConvGeometry(batch: shape[0], inChannels: outChannels, height: outH, width: outW,
                                   outChannels: shape[1], kernel: (kh, kw), stride: (stride, stride), padding: (padding, padding))
        let out = Tensor.uninitialized(adjoint.inputDims)
        let x = kernelArgument
        // With a bias the output is needed row-major anyway.
        if try Conv2dKernel.backwardData(adjoint, gradOutput: x.pointer, weight: weight.pointer, gradInput: out.pointer,
                                         gradOutputBlocked: x.blocked, blockedGradInput: bias == nil && KernelSettings.blockedActivations) {
            out.storage.markBlocked(out.shape)
        }
        if let bias { addChannelBias(out, bias) }
        var inputs = [self, weight]
        if let bias { inputs.append(bias) }
        return out.recorded(inputs, backward: { [self] grad in
            let dx = self.requiresGrad ? Tensor.uninitialized(shape) : nil
            let dy = grad.kernelArgument
            if let dx, try Conv2dKernel.forward(adjoint, input: dy.pointer, weight: weight.pointer, bias: nil, output: dx.pointer,
                                                inputBlocked: dy.blocked, blockedOutput: KernelSettings.blockedActivations) {
                dx.storage.markBlocked(dx.shape)
            }
            guard weight.requiresGrad || bias?.requiresGrad == true else { return [dx, nil, nil] }
            let dw = Tensor.uninitialized(weight.shape)
            let x = self.kernelArgument
            try Conv2dKernel.backwardWeights(adjoint, input: dy.pointer, gradOutput: x.pointer, gradWeight: dw.pointer, gradBias: nil,
                                             inputBlocked: dy.blocked, gradOutputBlocked: x.blocked)
            return [dx, dw, bias.map { _ in channelSums(grad) }]
        }, differentiable: { [self] grad, needs in
            [needs[0] ? try grad.conv2d(weight: weight, stride: stride, padding: padding) : nil,
             needs[1] ? try Tensor.conv2dWeightGradient(input: grad, gradOutput: self, kernel: (kh, kw), stride: stride, padding: padding) : nil]
                + (bias == nil ? [] : [needs[2] ? try grad.channelSumsRecorded() : nil])
        })
    }

    /// `channelSums` on the tape (for create-graph): sums over H, W by row, then over N by matmul.
    func channelSumsRecorded() throws -> Tensor {
        let (n, c) = (shape[0], shape[1])
        return try reshaped([n * c, count / Swift.max(n * c, 1)]).rowSums().reshaped([n, c]).summedOverBatch()
    }
}

/// out[n,c,:,:] += bias[c].
func addChannelBias(_ out: Tensor, _ bias: Tensor) {
    let (n, c) = (out.shape[0], out.shape[1]), plane = out.count / max(n * c, 1)
    for b in 0..<n { for ch in 0..<c {
        let base = out.pointer + (b * c + ch) * plane, v = bias.pointer[ch]
        for i in 0..<plane { base[i] += v }
    } }
}

/// Sum of x[N,C,...] over everything but C: the gradient of a per-channel bias.
func channelSums(_ x: Tensor) -> Tensor {
    let (n, c) = (x.shape[0], x.shape[1]), plane = x.count / max(n * c, 1)
    let out = Tensor(repeating: 0, shape: [c])
    for b in 0..<n { for ch in 0..<c {
        let base = x.pointer + (b * c + ch) * plane
        var s: Float = 0
        for i in 0..<plane { s += base[i] }
        out.pointer[ch] += s
    } }
    return out
}
