extension Tensor {
    /// conv3x3(upsampleNearest2x(x)) with padding 1 and no bias, for x[N,C,H,W] and weight[O,C,3,3]
    /// -> [N,O,2H,2W] (StackGAN's upBlock), computed as one stride-2 transposed convolution with the
    /// 4x4 kernel `weight.nearestUpsampledKernel()`.
    ///
    /// The same function, with 4 instead of 9 multiply-adds per output value, and neither the 4x
    /// larger upsampled tensor (kept for the weight gradient) nor its gradient is ever stored:
    /// at Stage-II's 256x256 layer those are 268 MB each at batch 16.
    public func upsampledConv3x3(weight: Tensor) throws -> Tensor {
        guard rank == 4, weight.rank == 4, weight.shape[1] == shape[1], weight.shape[2] == 3, weight.shape[3] == 3 else {
            throw ShapeError("upsampledConv3x3", "input \(shape) does not fit weight \(weight.shape) (expected [O, \(rank == 4 ? shape[1] : -1), 3, 3])")
        }
        return try convTranspose2d(weight: weight.nearestUpsampledKernel(), stride: 2, padding: 1)
    }

    /// For a 3x3 conv weight W[O,C,3,3], the 4x4 transposed-conv weight K[C,O,4,4] (PyTorch's
    /// ConvTranspose2d layout) with convTranspose2d(x, K, stride 2, padding 1) == conv2d(up2(x), W, padding 1).
    ///
    /// Per axis, output 2i reads upsampled rows 2i-1, 2i, 2i+1 = input rows i-1, i, i, so it gets
    /// W0 x[i-1] + (W1 + W2) x[i]; output 2i+1 gets (W0 + W1) x[i] + W2 x[i+1]. The transposed conv
    /// sends x[i] to 2i+k-1 with tap k, hence K = [W2, W1+W2, W0+W1, W0]; in 2-D, K[a][b] = sum of
    /// W[k][l] over the k that tap a takes and the l that tap b takes. The backward sums the same way.
    public func nearestUpsampledKernel() throws -> Tensor {
        guard rank == 4, shape[2] == 3, shape[3] == 3 else {
            throw ShapeError("nearestUpsampledKernel", "expected a 3x3 conv weight [O, C, 3, 3], got \(shape)")
        }
        let (o, c) = (shape[0], shape[1])
        let out = Tensor(repeating: 0, shape: [c, o, 4, 4])
        let (w, k) = (pointer, out.pointer)
        for oc in 0..<o { for ic in 0..<c {
            let src = w + (oc * c + ic) * 9, dst = k + (ic * o + oc) * 16
            for a in 0..<4 { for b in 0..<4 {
                var sum: Float = 0
                for kh in upsampledTaps[a] { for kw in upsampledTaps[b] { sum += src[kh * 3 + kw] } }
                dst[a * 4 + b] = sum
            } }
        } }
        let weightShape = shape
        return out.recorded([self]) { g in
            let d = Tensor(repeating: 0, shape: weightShape)
            for oc in 0..<o { for ic in 0..<c {
                let src = g.pointer + (ic * o + oc) * 16, dst = d.pointer + (oc * c + ic) * 9
                for a in 0..<4 { for b in 0..<4 {
                    for kh in upsampledTaps[a] { for kw in upsampledTaps[b] { dst[kh * 3 + kw] += src[a * 4 + b] } }
                } }
            } }
            return [d]
        }
    }
}

/// The 3x3 taps that each of the four transposed-conv taps sums (see `nearestUpsampledKernel`).
private let upsampledTaps: [[Int]] = [[2], [1, 2], [0, 1], [0]]
