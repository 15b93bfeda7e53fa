// Image decoding and encoding. Only this file calls libpng and TurboJPEG.
import CPNG
import CTurboJPEG
import Foundation

/// An 8-bit RGB image, pixels interleaved row-major: `pixels.count == height * width * 3`
/// (shape (H, W, 3), the layout PNG and JPEG decoders produce).
public struct RGBImage: Equatable {
    public var width: Int
    public var height: Int
    public var pixels: [UInt8]

    public init(width: Int, height: Int, pixels: [UInt8]) {
        precondition(pixels.count == width * height * 3, "RGBImage: pixel count must be width*height*3")
        self.width = width
        self.height = height
        self.pixels = pixels
    }

    /// Filled with one colour.
    public init(width: Int, height: Int, fill: (UInt8, UInt8, UInt8) = (0, 0, 0)) {
        self.width = width
        self.height = height
        pixels = [UInt8](repeating: 0, count: width * height * 3)
        for i in 0..<(width * height) {
            pixels[3 * i] = fill.0; pixels[3 * i + 1] = fill.1; pixels[3 * i + 2] = fill.2
        }
    }

    /// From one planar CHW Float image in [-1, 1] (a generator output, shape (3, H, W));
    /// values outside the range are clamped.
    public init(chw: UnsafeBufferPointer<Float>, height: Int, width: Int) {
        precondition(chw.count >= 3 * height * width, "RGBImage(chw:): buffer smaller than 3*H*W")
        self.init(width: width, height: height)
        let plane = height * width
        for c in 0..<3 {
            for p in 0..<plane {
                let v = (chw[c * plane + p] + 1) * 127.5
                pixels[3 * p + c] = UInt8(max(0, min(255, v.rounded())))
            }
        }
    }

    /// RGB at (x, y).
    public subscript(x: Int, y: Int) -> (UInt8, UInt8, UInt8) {
        let i = 3 * (y * width + x)
        return (pixels[i], pixels[i + 1], pixels[i + 2])
    }
}

/// Which codec a byte string is in, from its magic number.
public enum ImageFormat: String {
    case png, jpeg

    public static func detect(_ bytes: [UInt8]) -> ImageFormat? {
        if bytes.count >= 8, bytes[0] == 0x89, bytes[1] == 0x50, bytes[2] == 0x4E, bytes[3] == 0x47 { return .png }
        if bytes.count >= 3, bytes[0] == 0xFF, bytes[1] == 0xD8, bytes[2] == 0xFF { return .jpeg }
        return nil
    }
}

/// Decoding and encoding of PNG (libpng simplified API) and JPEG (TurboJPEG).
///
/// Errors are `DatasetError(.undecodableImage)` carrying the caller's `file` and `name`
/// (the example the bytes belong to) so that bad examples can be found.
public enum ImageCodec {
    /// Largest image decoded (8192 x 8192): a corrupt header must not request gigabytes.
    public static let maxPixels = 8192 * 8192

    /// Decodes PNG or JPEG bytes to RGB. Grayscale becomes gray RGB; alpha is composited
    /// onto white (transparent backgrounds of product/flower photos read as white, not as
    /// the arbitrary colour stored under alpha 0).
    public static func decode(_ bytes: [UInt8], file: String = "", name: String = "") throws -> RGBImage {
        switch ImageFormat.detect(bytes) {
        case .png?: return try decodePNG(bytes, file: file, name: name)
        case .jpeg?: return try decodeJPEG(bytes, file: file, name: name)
        case nil:
            throw DatasetError(.undecodableImage, file: file, path: name,
                               "image bytes are neither PNG nor JPEG (\(bytes.count) bytes, starting \(bytes.prefix(4).map { String(format: "%02x", $0) }.joined()))")
        }
    }

    /// Reads only the header: (width, height). Cheap validation at load time.
    public static func size(of bytes: [UInt8], file: String = "", name: String = "") throws -> (width: Int, height: Int) {
        func bad(_ why: String) -> DatasetError { DatasetError(.undecodableImage, file: file, path: name, why) }
        switch ImageFormat.detect(bytes) {
        case .png?:
            var image = png_image()
            defer { png_image_free(&image) }
            try readPNGHeader(&image, bytes, bad)
            return (Int(image.width), Int(image.height))
        case .jpeg?:
            guard let handle = tjInitDecompress() else { throw bad("cannot create a TurboJPEG decoder") }
            defer { tjDestroy(handle) }
            let (w, h) = try readJPEGHeader(handle, bytes, bad)
            return (Int(w), Int(h))
        case nil:
            throw bad("image bytes are neither PNG nor JPEG (\(bytes.count) bytes)")
        }
    }

    /// Starts reading PNG bytes into `image` (the caller frees it): fills width, height, format.
    private static func readPNGHeader(_ image: inout png_image, _ bytes: [UInt8], _ bad: (String) -> DatasetError) throws {
        image.version = cpng_image_version()
        guard bytes.withUnsafeBytes({ png_image_begin_read_from_memory(&image, $0.baseAddress, $0.count) }) != 0 else {
            throw bad("PNG header unreadable: \(pngMessage(&image))")
        }
    }

    /// Width and height from a JPEG header.
    private static func readJPEGHeader(_ handle: tjhandle, _ bytes: [UInt8], _ bad: (String) -> DatasetError) throws -> (Int32, Int32) {
        var w: Int32 = 0, h: Int32 = 0, sub: Int32 = 0, space: Int32 = 0
        let status = bytes.withUnsafeBytes {
            tjDecompressHeader3(handle, $0.bindMemory(to: UInt8.self).baseAddress, UInt(bytes.count), &w, &h, &sub, &space)
        }
        guard status == 0, w > 0, h > 0 else { throw bad("JPEG header unreadable: \(String(cString: tjGetErrorStr2(handle)))") }
        return (w, h)
    }

    private static func pngMessage(_ image: inout png_image) -> String {
        withUnsafeBytes(of: &image.message) { raw in
            String(decoding: raw.prefix(while: { $0 != 0 }), as: UTF8.self)
        }
    }

    public static func decodePNG(_ bytes: [UInt8], file: String = "", name: String = "") throws -> RGBImage {
        func bad(_ why: String) -> DatasetError { DatasetError(.undecodableImage, file: file, path: name, why) }
        var image = png_image()
        defer { png_image_free(&image) }
        try readPNGHeader(&image, bytes, bad)
        image.format = cpng_format_rgb()
        let width = Int(image.width), height = Int(image.height)
        guard width * height <= maxPixels else {
            throw bad("PNG of \(width)x\(height) exceeds the \(maxPixels)-pixel limit")
        }
        var pixels = [UInt8](repeating: 0, count: width * height * 3)
        var white = png_color(red: 255, green: 255, blue: 255)
        let finished = pixels.withUnsafeMutableBytes { png_image_finish_read(&image, &white, $0.baseAddress, Int32(width * 3), nil) }
        guard finished != 0 else {
            throw bad("PNG data undecodable: \(pngMessage(&image))")
        }
        return RGBImage(width: width, height: height, pixels: pixels)
    }

    public static func decodeJPEG(_ bytes: [UInt8], file: String = "", name: String = "") throws -> RGBImage {
        func bad(_ why: String) -> DatasetError { DatasetError(.undecodableImage, file: file, path: name, why) }
        guard let handle = tjInitDecompress() else { throw bad("cannot create a TurboJPEG decoder") }
        defer { tjDestroy(handle) }
        let (w, h) = try readJPEGHeader(handle, bytes, bad)
        guard Int(w) * Int(h) <= maxPixels else { throw bad("JPEG of \(w)x\(h) exceeds the \(maxPixels)-pixel limit") }
        var pixels = [UInt8](repeating: 0, count: Int(w) * Int(h) * 3)
        let status = bytes.withUnsafeBytes { src in
            pixels.withUnsafeMutableBufferPointer { dst in
                tjDecompress2(handle, src.bindMemory(to: UInt8.self).baseAddress, UInt(bytes.count),
                              dst.baseAddress, w, 0, h, Int32(TJPF_RGB.rawValue), TJFLAG_STOPONWARNING)
            }
        }
        // A warning is damage too: a file cut mid-scan ("premature end of data"), or a header
        // claiming 8192x8192 over a few hundred bytes, "decodes" with the missing part grey.
        if status != 0 {
            throw bad("JPEG data undecodable: \(String(cString: tjGetErrorStr2(handle)))")
        }
        return RGBImage(width: Int(w), height: Int(h), pixels: pixels)
    }

    /// Encodes RGB8 as PNG bytes.
    public static func encodePNG(_ rgb: RGBImage) throws -> [UInt8] {
        var image = png_image()
        image.version = cpng_image_version()
        image.width = UInt32(rgb.width)
        image.height = UInt32(rgb.height)
        image.format = cpng_format_rgb()
        defer { png_image_free(&image) }
        // First call measures, second writes: the size depends on compression.
        var size = 0
        let measured = rgb.pixels.withUnsafeBytes { png_image_write_to_memory(&image, nil, &size, 0, $0.baseAddress, Int32(rgb.width * 3), nil) }
        guard measured != 0, size > 0 else {
            throw DatasetError(.writeFailed, file: "", path: "", "PNG encoding failed: \(pngMessage(&image))")
        }
        var out = [UInt8](repeating: 0, count: size)
        let written = out.withUnsafeMutableBytes { dst in
            rgb.pixels.withUnsafeBytes { png_image_write_to_memory(&image, dst.baseAddress, &size, 0, $0.baseAddress, Int32(rgb.width * 3), nil) }
        }
        guard written != 0 else {
            throw DatasetError(.writeFailed, file: "", path: "", "PNG encoding failed: \(pngMessage(&image))")
        }
        return Array(out.prefix(size))
    }

    /// Writes a PNG by `OutputFile`'s rules: atomically, so a reader (or a crash mid-write) never
    /// sees a half-written sample grid.
    public static func writePNG(_ rgb: RGBImage, to output: OutputFile) throws {
        try output.write(encodePNG(rgb))
    }

    /// The same to a file the caller names itself (a regular file or nothing there).
    public static func writePNG(_ rgb: RGBImage, to path: String) throws {
        try writePNG(rgb, to: OutputFile(path))
    }
}

/// Tiles images into one picture for sample sheets.
public enum ImageGrid {
    /// Places `images` (all the same size) row by row, `columns` per row, separated
    /// by `gap` pixels of `background`.
    public static func tile(_ images: [RGBImage], columns: Int, gap: Int = 2,
                            background: (UInt8, UInt8, UInt8) = (255, 255, 255)) -> RGBImage {
        guard let first = images.first, columns > 0 else { return RGBImage(width: 1, height: 1, fill: background) }
        let w = first.width, h = first.height
        let cols = min(columns, images.count)
        let rows = (images.count + cols - 1) / cols
        var grid = RGBImage(width: cols * w + (cols + 1) * gap, height: rows * h + (rows + 1) * gap, fill: background)
        for (n, image) in images.enumerated() where image.width == w && image.height == h {
            let x0 = gap + (n % cols) * (w + gap), y0 = gap + (n / cols) * (h + gap)
            for y in 0..<h {
                let dst = 3 * ((y0 + y) * grid.width + x0)
                grid.pixels.replaceSubrange(dst..<(dst + 3 * w), with: image.pixels[(3 * y * w)..<(3 * (y + 1) * w)])
            }
        }
        return grid
    }

    /// Grid from a Float NCHW batch in [-1, 1] (shape (count, 3, size, size)), the form
    /// generators and `Batch.images` use.
    public static func tile(nchw: [Float], count: Int, size: Int, columns: Int, gap: Int = 2) -> RGBImage {
        let plane = 3 * size * size
        let n = min(count, nchw.count / max(plane, 1))
        let images = nchw.withUnsafeBufferPointer { buffer in
            (0..<n).map { i in
                RGBImage(chw: UnsafeBufferPointer(rebasing: buffer[(i * plane)..<((i + 1) * plane)]), height: size, width: size)
            }
        }
        return tile(images, columns: columns, gap: gap)
    }
}
