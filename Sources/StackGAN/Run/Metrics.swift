import Foundation

/// One logged step of metrics.jsonl: the one record of a run's numbers. The trainer writes it
/// (`RunLog`); `RunFolder.repair` and `stackgan report` read it back. Every loss term a training
/// step returns is an entry of `losses`, written as a top-level key beside `step`, `epoch`,
/// `images_per_second` and `time`, so a new term reaches the file, TensorBoard and the report
/// without a change here.
public struct MetricsRecord: Codable, Equatable {
    public var step: Int
    public var epoch: Int?
    /// Images per second since this process started training (a running mean).
    public var imagesPerSecond: Double?
    /// When the step was logged, in seconds since 1970.
    public var time: Double?
    /// The loss terms by name: `d_loss`, `g_loss`, `d_real_match`, ...
    public var losses: [String: Double]

    public init(step: Int, epoch: Int? = nil, imagesPerSecond: Double? = nil, time: Double? = nil, losses: [String: Double]) {
        (self.step, self.epoch, self.imagesPerSecond, self.time, self.losses) = (step, epoch, imagesPerSecond, time, losses)
    }

    /// The record on one line of metrics.jsonl, or nil when the line is not one (a half-written
    /// last line of a killed run, a line without an integer `step`).
    public init?(line: some DataProtocol) {
        guard let record = try? JSONDecoder().decode(Self.self, from: Data(line)) else { return nil }
        self = record
    }

    /// The record as one line of metrics.jsonl (sorted keys, no newline).
    public func line() throws -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return try encoder.encode(self)
    }

    private struct Key: CodingKey {
        let stringValue: String
        init(_ name: String) { stringValue = name }
        init?(stringValue: String) { self.init(stringValue) }
        var intValue: Int? { nil }
        init?(intValue: Int) { nil }
    }

    private static let named = ["step", "epoch", "images_per_second", "time"]

    /// `step` must be an integer; the other named keys are kept when they are numbers, and every
    /// other key with a number is a loss term.
    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: Key.self)
        step = try c.decode(Int.self, forKey: Key("step"))
        epoch = try? c.decode(Int.self, forKey: Key("epoch"))
        imagesPerSecond = try? c.decode(Double.self, forKey: Key("images_per_second"))
        time = try? c.decode(Double.self, forKey: Key("time"))
        losses = [:]
        for key in c.allKeys where !Self.named.contains(key.stringValue) {
            if let value = try? c.decode(Double.self, forKey: key) { losses[key.stringValue] = value }
        }
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: Key.self)
        try c.encode(step, forKey: Key("step"))
        try c.encodeIfPresent(epoch, forKey: Key("epoch"))
        try c.encodeIfPresent(imagesPerSecond, forKey: Key("images_per_second"))
        try c.encodeIfPresent(time, forKey: Key("time"))
        for (name, value) in losses where !Self.named.contains(name) { try c.encode(value, forKey: Key(name)) }
    }
}

/// Where a training run records its numbers and grids (rank 0 only): metrics.jsonl and one
/// TensorBoard event file in its folder, so `tensorboard --logdir runs` and `stackgan report`
/// show the same steps.
final class RunLog {
    private let metrics: FileHandle
    private let tensorBoard: TensorBoardWriter

    init(folder: RunFolder) throws {
        tensorBoard = try TensorBoardWriter(file: folder.destination(RunFile.newEvents()))
        metrics = try folder.appending(.metrics)
    }

    deinit { try? metrics.close() }

    /// One logged step: a line of metrics.jsonl, a TensorBoard scalar per loss term and the speed.
    func record(_ record: MetricsRecord) {
        for (name, value) in record.losses { tensorBoard.scalar("loss/\(name)", Float(value), step: record.step) }
        if let speed = record.imagesPerSecond { tensorBoard.scalar("speed/images_per_second", Float(speed), step: record.step) }
        if let line = try? record.line() { metrics.write(line + Data("\n".utf8)) }
    }

    /// The sample grid at `step`, PNG-encoded.
    func samples(png: [UInt8], width: Int, height: Int, step: Int) {
        tensorBoard.image("samples", png: png, width: width, height: height, step: step)
    }
}
