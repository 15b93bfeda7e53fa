import Kernels

extension Tensor {
    /// The weight gradient [O,C,KH,KW] of conv2d(x, W, stride, padding) for its input x [N,C,H,W]
    /// and its output's gradient g [N,O,P,Q], as an op of its own: conv2d's and convTranspose2d's
    /// create-graph backwards use it, so that their weight gradients differentiate again.
    /// It is bilinear in (x, g): for an upstream h [O,C,KH,KW], dx = the input gradient of
    /// conv2d(., h) at g (a transposed conv) and dg = conv2d(x, h).
    static func conv2dWeightGradient(input x: Tensor, gradOutput g: Tensor, kernel: (Int, Int), stride: Int,
                                     padding: Int) throws -> Tensor {
        guard x.rank == 4, g.rank == 4 else {
            throw ShapeError("conv2dWeightGradient", "expected input and output gradient [N, C, H, W], got \(x.shape) and \(g.shape)")
        }
        let geometry = ConvGeometry(batch: x.shape[0], inChannels: x.shape[1], height: x.shape[2], width: x.shape[3],
                                    outChannels: g.shape[1], kernel: kernel, stride: (stride, stride), padding: (padding, padding))
        guard stride > 0, padding >= 0, geometry.outHeight > 0, geometry.outWidth > 0, geometry.outputDims == g.shape else {
            throw ShapeError("conv2dWeightGradient", "output gradient \(g.shape) is not the output of a \(kernel) stride \(stride) padding \(padding) conv of \(x.shape)")
        }
        let out = Tensor.uninitialized(geometry.weightDims)
        let (input, gradOutput) = (x.kernelArgument, g.kernelArgument)
        try Conv2dKernel.backwardWeights(geometry, input: input.pointer, gradOutput: gradOutput.pointer, gradWeight: out.pointer,
                                         gradBias: nil, inputBlocked: input.blocked, gradOutputBlocked: gradOutput.blocked)
        let leftover = geometry.leftover
        return out.recorded([x, g], backwardRecords: true, backward: { h in
            [x.requiresGrad ? try g.convTranspose2d(weight: h, stride: stride, padding: padding, outputPadding: leftover) : nil,
             g.requiresGrad ? try x.conv2d(weight: h, stride: stride, padding: padding) : nil]
        })
    }
}
