import Autograd
import Datasets
import Foundation

/// Real images of some examples decoded once into planar floats in [-1, 1]: [n, 3, S, S] with S
/// the crop size (the whole load-size image when the caller crops later).
struct RealImages {
    let pixels: [Float]
    let count: Int
    let size: Int

    /// Resize to `loadSize`, centre-crop `cropSize` (the dataset's eval mode).
    static func decode(_ dataset: TextImageDataset, indices: [Int], loadSize: Int, cropSize: Int) throws -> RealImages {
        let plane = 3 * cropSize * cropSize
        var pixels = [Float](repeating: 0, count: indices.count * plane)
        var rng = RandomGenerator(seed: 0)  // eval mode draws nothing; the API wants a generator
        for (slot, index) in indices.enumerated() {
            let image = try dataset.image(at: index)
            pixels.withUnsafeMutableBufferPointer { all in
                Preprocess.apply(image, loadSize: loadSize, cropSize: cropSize, mode: .eval, rng: &rng,
                                 into: UnsafeMutableBufferPointer(rebasing: all[(slot * plane)..<((slot + 1) * plane)]))
            }
        }
        return RealImages(pixels: pixels, count: indices.count, size: cropSize)
    }

    func tensor() throws -> Tensor { try Tensor(shape: [count, 3, size, size], scalars: pixels) }

    /// A training batch [slots.count, 3, crop, crop]: a random `crop` of each image (the whole
    /// image when it is that size), mirrored with probability 1/2 when `flips`.
    func batch(_ slots: [Int], cropSize crop: Int, flips: Bool, using rng: inout RandomGenerator) throws -> Tensor {
        var pixels = [Float](repeating: 0, count: slots.count * 3 * crop * crop)
        let slack = size - crop
        for (row, slot) in slots.enumerated() {
            let (x0, y0) = slack > 0 ? (Int(rng.next() % UInt64(slack + 1)), Int(rng.next() % UInt64(slack + 1))) : (0, 0)
            let flip = flips && rng.next() >> 63 == 1
            self.crop(slot, x0: x0, y0: y0, size: crop, flip: flip, into: &pixels, at: row)
        }
        return try Tensor(shape: [slots.count, 3, crop, crop], scalars: pixels)
    }

    /// Copies the `size` crop at (x0, y0) of image `index`, mirrored if `flip`, into row `row` of a
    /// [*, 3, size, size] buffer.
    func crop(_ index: Int, x0: Int, y0: Int, size crop: Int, flip: Bool, into out: inout [Float], at row: Int) {
        let source = index * 3 * size * size, target = row * 3 * crop * crop
        for c in 0..<3 { for y in 0..<crop {
            let s = source + (c * size + y0 + y) * size + x0, t = target + (c * crop + y) * crop
            for x in 0..<crop { out[t + x] = pixels[s + (flip ? crop - 1 - x : x)] }
        } }
    }
}
