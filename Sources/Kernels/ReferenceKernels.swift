// Plain loops that define what the oneDNN kernels must compute. Tests compare the two on odd
// shapes; nothing in training calls these (they are 100x slower).

/// Direct-loop reference implementations of the oneDNN kernels.
public enum ReferenceKernels {
    public static func convForward(_ g: ConvGeometry, input: [Float], weight: [Float], bias: [Float]?) -> [Float] {
        let (P, Q) = (g.outHeight, g.outWidth)
        var out = [Float](repeating: 0, count: g.batch * g.outChannels * P * Q)
        for n in 0..<g.batch { for o in 0..<g.outChannels { for p in 0..<P { for q in 0..<Q {
            var acc = bias?[o] ?? 0
            for c in 0..<g.inChannels { for kh in 0..<g.kernelHeight { for kw in 0..<g.kernelWidth {
                let h = p * g.strideHeight + kh - g.padHeight, w = q * g.strideWidth + kw - g.padWidth
                guard h >= 0, h < g.height, w >= 0, w < g.width else { continue }
                acc += input[((n * g.inChannels + c) * g.height + h) * g.width + w]
                    * weight[((o * g.inChannels + c) * g.kernelHeight + kh) * g.kernelWidth + kw]
            } } }
            out[((n * g.outChannels + o) * P + p) * Q + q] = acc
        } } } }
        return out
    }

    public static func convBackwardData(_ g: ConvGeometry, gradOutput: [Float], weight: [Float]) -> [Float] {
        var gradInput = [Float](repeating: 0, count: g.batch * g.inChannels * g.height * g.width)
        forEachTap(g) { inIndex, wIndex, outIndex in gradInput[inIndex] += gradOutput[outIndex] * weight[wIndex] }
        return gradInput
    }

    public static func convBackwardWeights(_ g: ConvGeometry, input: [Float], gradOutput: [Float]) -> (weight: [Float], bias: [Float]) {
        var gradWeight = [Float](repeating: 0, count: g.outChannels * g.inChannels * g.kernelHeight * g.kernelWidth)
        forEachTap(g) { inIndex, wIndex, outIndex in gradWeight[wIndex] += gradOutput[outIndex] * input[inIndex] }
        var gradBias = [Float](repeating: 0, count: g.outChannels)
        let plane = g.outHeight * g.outWidth
        for n in 0..<g.batch { for o in 0..<g.outChannels { for i in 0..<plane {
            gradBias[o] += gradOutput[(n * g.outChannels + o) * plane + i]
        } } }
        return (gradWeight, gradBias)
    }

    /// Calls `body(inputIndex, weightIndex, outputIndex)` for every multiply of the convolution.
    private static func forEachTap(_ g: ConvGeometry, _ body: (Int, Int, Int) -> Void) {
        let (P, Q) = (g.outHeight, g.outWidth)
        for n in 0..<g.batch { for o in 0..<g.outChannels { for p in 0..<P { for q in 0..<Q {
            let outIndex = ((n * g.outChannels + o) * P + p) * Q + q
            for c in 0..<g.inChannels { for kh in 0..<g.kernelHeight { for kw in 0..<g.kernelWidth {
                let h = p * g.strideHeight + kh - g.padHeight, w = q * g.strideWidth + kw - g.padWidth
                guard h >= 0, h < g.height, w >= 0, w < g.width else { continue }
                body(((n * g.inChannels + c) * g.height + h) * g.width + w,
                     ((o * g.inChannels + c) * g.kernelHeight + kh) * g.kernelWidth + kw, outIndex)
            } } }
        } } } }
    }

    /// Training-mode batch norm; returns the output and the batch mean and biased variance.
    public static func batchNormForward(_ g: BatchNormKernel.Geometry, input: [Float], scale: [Float], shift: [Float])
        -> (output: [Float], mean: [Float], variance: [Float]) {
        let plane = g.height * g.width, count = Float(g.batch * plane)
        var mean = [Float](repeating: 0, count: g.channels), variance = mean
        var output = input
        for c in 0..<g.channels {
            var s: Double = 0
            for n in 0..<g.batch { for i in 0..<plane { s += Double(input[(n * g.channels + c) * plane + i]) } }
            let m = s / Double(count)
            var v: Double = 0
            for n in 0..<g.batch { for i in 0..<plane { let d = Double(input[(n * g.channels + c) * plane + i]) - m; v += d * d } }
            v /= Double(count)
            mean[c] = Float(m); variance[c] = Float(v)
            let inv = 1 / (v + Double(g.epsilon)).squareRoot()
            for n in 0..<g.batch { for i in 0..<plane {
                let j = (n * g.channels + c) * plane + i
                output[j] = Float((Double(input[j]) - m) * inv) * scale[c] + shift[c]
            } }
        }
        return (output, mean, variance)
    }

    /// Backward of training-mode batch norm: dx = scale/sigma * (dy - mean(dy) - xhat * mean(dy * xhat)).
    public static func batchNormBackward(_ g: BatchNormKernel.Geometry, input: [Float], scale: [Float], gradOutput: [Float])
        -> (gradInput: [Float], gradScale: [Float], gradShift: [Float]) {
        let plane = g.height * g.width, count = Double(g.batch * plane)
        let (_, mean, variance) = batchNormForward(g, input: input, scale: scale, shift: [Float](repeating: 0, count: g.channels))
        var gradInput = input, gradScale = [Float](repeating: 0, count: g.channels), gradShift = gradScale
        for c in 0..<g.channels {
            let inv = 1 / (Double(variance[c]) + Double(g.epsilon)).squareRoot()
            var sumDy: Double = 0, sumDyXhat: Double = 0
            for n in 0..<g.batch { for i in 0..<plane {
                let j = (n * g.channels + c) * plane + i
                let xhat = (Double(input[j]) - Double(mean[c])) * inv
                sumDy += Double(gradOutput[j]); sumDyXhat += Double(gradOutput[j]) * xhat
            } }
            gradShift[c] = Float(sumDy); gradScale[c] = Float(sumDyXhat)
            for n in 0..<g.batch { for i in 0..<plane {
                let j = (n * g.channels + c) * plane + i
                let xhat = (Double(input[j]) - Double(mean[c])) * inv
                gradInput[j] = Float(Double(scale[c]) * inv * (Double(gradOutput[j]) - sumDy / count - xhat * sumDyXhat / count))
            } }
        }
        return (gradInput, gradScale, gradShift)
    }
}
