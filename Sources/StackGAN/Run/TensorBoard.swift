import Foundation

/// Writes TensorBoard event files (`events.out.tfevents.*`) so `tensorboard --logdir runs` shows
/// scalars and sample grids. The format is TFRecord framing around protobuf `Event` messages; the
/// few fields we need are encoded by hand rather than pulling in a protobuf library.
public final class TensorBoardWriter {
    private let handle: FileHandle
    public let path: String

    /// Creates the event file `file` (a run folder names it: `RunFile.events`).
    public init(file: URL) throws {
        path = file.path
        guard FileManager.default.createFile(atPath: path, contents: nil), let handle = FileHandle(forWritingAtPath: path) else {
            throw StackGANError(.output, path, "cannot create the TensorBoard event file")
        }
        self.handle = handle
        var version = Protobuf()
        version.double(1, Date().timeIntervalSince1970)
        version.string(3, "brain.Event:2")
        write(version.bytes)
    }

    deinit { try? handle.close() }

    public func scalar(_ tag: String, _ value: Float, step: Int) {
        var summaryValue = Protobuf()
        summaryValue.string(1, tag)
        summaryValue.float(2, value)
        writeSummary(summaryValue, step: step)
    }

    /// A PNG-encoded image (the sample grid).
    public func image(_ tag: String, png: [UInt8], width: Int, height: Int, step: Int) {
        var image = Protobuf()
        image.varint(1, UInt64(height))
        image.varint(2, UInt64(width))
        image.varint(3, 3)  // RGB
        image.bytes(4, png)
        var summaryValue = Protobuf()
        summaryValue.string(1, tag)
        summaryValue.message(4, image)
        writeSummary(summaryValue, step: step)
    }

    private func writeSummary(_ value: Protobuf, step: Int) {
        var summary = Protobuf()
        summary.message(1, value)
        var event = Protobuf()
        event.double(1, Date().timeIntervalSince1970)
        event.varint(2, UInt64(bitPattern: Int64(step)))
        event.message(5, summary)
        write(event.bytes)
    }

    /// The event file at `url` without the events logged after `step` and without a damaged or
    /// half-written tail (a killed run), or nil when there is nothing to drop: a resumed run logs
    /// those steps again, and TensorBoard would otherwise draw the old and the new values as two
    /// overlapping lines.
    static func records(in url: URL, upToStep step: Int) -> Data? {
        guard let data = FileManager.default.contents(atPath: url.path) else { return nil }
        let bytes = [UInt8](data)
        var kept: [UInt8] = [], offset = 0
        while bytes.count - offset >= 16 {
            let length = bytes[offset..<(offset + 8)].enumerated().reduce(UInt64(0)) { $0 | UInt64($1.element) << (8 * UInt64($1.offset)) }
            guard length <= UInt64(bytes.count - offset - 16) else { break }
            let end = offset + 16 + Int(length)
            let record = Array(bytes[(offset + 12)..<(end - 4)])
            guard Array(bytes[(end - 4)..<end]) == littleEndian(CRC32C.masked(record)) else { break }
            if (Protobuf.varintField(2, in: record) ?? 0) <= UInt64(step) { kept += bytes[offset..<end] }
            offset = end
        }
        return kept.count == bytes.count ? nil : Data(kept)
    }

    /// TFRecord: length, masked CRC32C of the length, data, masked CRC32C of the data.
    private func write(_ data: [UInt8]) {
        var record: [UInt8] = []
        let length = littleEndian(UInt64(data.count))
        record += length
        record += littleEndian(CRC32C.masked(length))
        record += data
        record += littleEndian(CRC32C.masked(data))
        handle.write(Data(record))
    }
}

private func littleEndian<T: FixedWidthInteger>(_ value: T) -> [UInt8] {
    withUnsafeBytes(of: value.littleEndian) { Array($0) }
}

/// The protobuf wire format, only what Event/Summary need.
struct Protobuf {
    private(set) var bytes: [UInt8] = []

    mutating func varint(_ field: Int, _ value: UInt64) { key(field, 0); writeVarint(value) }
    mutating func double(_ field: Int, _ value: Double) { key(field, 1); bytes += littleEndian(value.bitPattern) }
    mutating func float(_ field: Int, _ value: Float) { key(field, 5); bytes += littleEndian(value.bitPattern) }
    mutating func bytes(_ field: Int, _ value: [UInt8]) { key(field, 2); writeVarint(UInt64(value.count)); bytes += value }
    mutating func string(_ field: Int, _ value: String) { bytes(field, Array(value.utf8)) }
    mutating func message(_ field: Int, _ value: Protobuf) { bytes(field, value.bytes) }

    /// The value of varint `field` in an encoded message (nil when absent or the bytes are malformed).
    static func varintField(_ field: UInt64, in message: [UInt8]) -> UInt64? {
        var i = 0
        func varint() -> UInt64? {
            var value: UInt64 = 0, shift: UInt64 = 0
            while i < message.count, shift < 64 {
                let b = message[i]; i += 1
                value |= UInt64(b & 0x7F) << shift
                if b < 0x80 { return value }
                shift += 7
            }
            return nil
        }
        while i < message.count {
            guard let key = varint() else { return nil }
            switch key & 7 {
            case 0:
                guard let value = varint() else { return nil }
                if key >> 3 == field { return value }
            case 1: i += 8
            case 5: i += 4
            case 2:
                guard let length = varint(), length <= UInt64(message.count - i) else { return nil }
                i += Int(length)
            default: return nil
            }
        }
        return nil
    }

    private mutating func key(_ field: Int, _ wireType: UInt64) { writeVarint(UInt64(field) << 3 | wireType) }
    private mutating func writeVarint(_ value: UInt64) {
        var v = value
        while v >= 0x80 { bytes.append(UInt8(v & 0x7F) | 0x80); v >>= 7 }
        bytes.append(UInt8(v))
    }
}

/// CRC-32C (Castagnoli), as TFRecord uses, with TensorFlow's masking.
enum CRC32C {
    private static let table: [UInt32] = (0..<256).map { i in
        var c = UInt32(i)
        for _ in 0..<8 { c = c & 1 != 0 ? 0x82F6_3B78 ^ (c >> 1) : c >> 1 }
        return c
    }

    static func checksum(_ data: [UInt8]) -> UInt32 {
        var crc: UInt32 = 0xFFFF_FFFF
        for byte in data { crc = table[Int((crc ^ UInt32(byte)) & 0xFF)] ^ (crc >> 8) }
        return crc ^ 0xFFFF_FFFF
    }

    static func masked(_ data: [UInt8]) -> UInt32 {
        let crc = checksum(data)
        return ((crc >> 15) | (crc << 17)) &+ 0xA282_EAD8
    }
}
