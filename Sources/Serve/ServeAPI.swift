import Datasets
import Foundation
import StackGAN
import TextEncoder

/// The routes of `stackgan serve` without the HTTP server: a method, a path and a body in, a
/// `Reply` out, so tests call exactly what the server calls.
///
/// - `GET /`: the page (`Page.html`).
/// - `GET /api/health`: the model's image size and the limits.
/// - `POST /api/generate {captions: [...], samples: k, seed: s}`: k PNGs per caption.
/// - `POST /api/interpolate {captions: [a, b], steps: n, seed: s}`: n PNGs walking from a to b (GAN-INT).
///
/// Images are those `stackgan generate --caption ... --seed s` writes for the same checkpoint
/// (`Sampler.columnNoise`). Nothing here reads or writes a file after the model is loaded.
///
/// Only this machine's pages and scripts may use it (`Caller`): a web page open in the user's
/// browser could otherwise make it work with a `text/plain` form POST (no CORS preflight), or read
/// it through a host name rebound to 127.0.0.1.
public final class ServeAPI: @unchecked Sendable {
    /// What one request may ask for; every size the server allocates follows from these.
    public struct Limits: Codable, Sendable {
        public var maxBodyBytes = 32 * 1024
        public var maxCaptions = 8
        public var maxCaptionCharacters = 300
        public var maxSamples = 8
        public var maxSteps = 16
        /// Seeds stay within what JavaScript's numbers hold exactly, so a shared URL reproduces.
        public var maxSeed = 4_294_967_295
        public init() {}
    }

    /// What a request says about where it comes from, and the port it reached.
    public struct Caller: Sendable {
        /// The Host, Origin and Content-Type headers (nil when absent).
        public var host: String?, origin: String?, contentType: String?
        /// The port the server listens on.
        public var port: Int
        public init(host: String?, origin: String? = nil, contentType: String? = nil, port: Int) {
            (self.host, self.origin, self.contentType, self.port) = (host, origin, contentType, port)
        }
    }

    public let limits: Limits
    /// The address the server listens on (`--host`): a Host header may name it.
    public let listeningHost: String
    public let queue: GenerationQueue
    /// The file name of the checkpoint, for the health reply (not its path).
    public let checkpointName: String
    private let sampler: Sampler
    private let encoder: SentenceEncoder

    /// Takes a loaded model and encoder; they are used only on `queue`.
    public init(sampler: Sampler, encoder: SentenceEncoder, checkpointName: String, listeningHost: String = "127.0.0.1",
                limits: Limits = Limits(), maxWaiting: Int = 8) throws {
        guard sampler.embeddingWidth == encoder.width else {
            throw StackGANError(.unusableInput, checkpointName,
                                "embedding_dim \(sampler.embeddingWidth), but the sentence encoder (\(encoder.folder)) gives \(encoder.width)-d embeddings: serve needs a checkpoint trained on that encoder's embeddings")
        }
        self.sampler = sampler
        self.encoder = encoder
        self.checkpointName = checkpointName
        self.listeningHost = listeningHost
        self.limits = limits
        queue = GenerationQueue(maxWaiting: maxWaiting)
    }

    public var imageSize: Int { sampler.imageSize }

    /// An HTTP answer: status, content type, body, and for a 429 when to try again.
    public struct Reply: Sendable {
        public var status: Int
        public var contentType: String
        public var body: [UInt8]
        public var retryAfterSeconds: Int?

        static func json<T: Encodable>(_ value: T, status: Int = 200) -> Reply {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
            // Encoding these plain structs cannot fail; an empty object is the fallback all the same.
            let body = (try? encoder.encode(value)).map { [UInt8]($0) } ?? Array("{}".utf8)
            return Reply(status: status, contentType: "application/json", body: body)
        }

        static func error(_ status: Int, _ message: String) -> Reply {
            json(["error": message], status: status)
        }
    }

    /// A request the client got wrong: the status and a one-line message naming the field.
    struct Refusal: Error {
        let status: Int
        let message: String
        init(_ status: Int, _ message: String) { self.status = status; self.message = message }
        init(_ message: String) { self.init(400, message) }
    }

    /// Answers one request. `body` is nil when it was longer than `limits.maxBodyBytes`.
    public func respond(method: String, path: String, body: [UInt8]?, caller: Caller) async -> Reply {
        do {
            try check(caller, method: method)
            switch (method, path) {
            case ("GET", "/"), ("GET", "/index.html"):
                return Reply(status: 200, contentType: "text/html; charset=utf-8", body: Array(Page.html.utf8))
            case ("GET", "/api/health"):
                return .json(Health(status: "ok", checkpoint: checkpointName, imageSize: imageSize,
                                    pending: queue.pending, maxWaiting: queue.maxWaiting, limits: limits))
            case ("POST", "/api/generate"):
                return try await generate(try decode(body, fields: ["captions", "samples", "seed"]))
            case ("POST", "/api/interpolate"):
                return try await interpolate(try decode(body, fields: ["captions", "steps", "seed"]))
            case (_, "/"), (_, "/index.html"), (_, "/api/health"), (_, "/api/generate"), (_, "/api/interpolate"):
                throw Refusal(405, "\(method.prefix(20)) \(path): method not allowed")
            default:
                throw Refusal(404, "\(path.prefix(200)): not found (the page is /, the API is /api/generate, /api/interpolate and /api/health)")
            }
        } catch let refusal as Refusal {
            var reply = Reply.error(refusal.status, refusal.message)
            if refusal.status == 429 { reply.retryAfterSeconds = 1 }
            return reply
        } catch {
            return .error(500, "generation failed: \(error)")
        }
    }

    /// Refuses a request that is not from this machine's own page or a script: a Host that names
    /// neither this server's address, `localhost` nor an IP address, or another port (a host name
    /// rebound to this machine); an Origin that is not this server's; a POST that is not JSON (an
    /// HTML form or a `text/plain` fetch, which browsers send across sites without asking).
    func check(_ caller: Caller, method: String) throws {
        guard let host = caller.host?.lowercased(), let (name, port) = Self.split(host: host) else {
            throw Refusal(403, "Host header: missing or malformed")
        }
        let isAddress = name == "localhost" || name == listeningHost.lowercased() || name.contains(":")
            || (name.split(separator: ".", omittingEmptySubsequences: false).count == 4 && name.allSatisfy { $0.isNumber || $0 == "." })
        guard isAddress, port == caller.port else {
            throw Refusal(403, "Host \(host.prefix(100)): this server answers only requests addressed to \(listeningHost), localhost or an IP address, port \(caller.port)")
        }
        if let origin = caller.origin, origin.lowercased() != "http://\(host)" {
            throw Refusal(403, "Origin \(origin.prefix(100)): only this server's own page (http://\(host)) may call it")
        }
        if method == "POST" {
            let type = caller.contentType?.split(separator: ";").first?.trimmingCharacters(in: .whitespaces).lowercased()
            guard type == "application/json" else {
                throw Refusal(415, "Content-Type \((caller.contentType ?? "missing").prefix(100)): expected application/json")
            }
        }
    }

    /// "name:port" (IPv6 in brackets) -> (name, port); the port is 80 when absent.
    static func split(host: String) -> (name: String, port: Int)? {
        var name = Substring(host), port = 80
        if host.hasPrefix("[") {
            guard let close = host.firstIndex(of: "]") else { return nil }
            name = host[host.index(after: host.startIndex)..<close]
            let rest = host[host.index(after: close)...]
            if !rest.isEmpty {
                guard rest.first == ":", let p = Int(rest.dropFirst()) else { return nil }
                port = p
            }
        } else if let colon = host.lastIndex(of: ":") {
            guard let p = Int(host[host.index(after: colon)...]) else { return nil }
            (name, port) = (host[..<colon], p)
        }
        guard !name.isEmpty, !name.contains("/"), !name.contains("@") else { return nil }
        return (String(name), port)
    }

    struct Health: Encodable {
        let status: String
        let checkpoint: String
        let imageSize: Int
        let pending: Int
        let maxWaiting: Int
        let limits: Limits
    }

    /// The body of both POST routes; `samples` applies to generate, `steps` to interpolate.
    /// Numbers are decoded as JSON numbers and checked by `integer`, so 2.5 or -1 gets a message
    /// naming the field (the decoder's own conversion errors do not say which field).
    struct Request: Decodable {
        var captions: [String]
        var samples: Double?
        var steps: Double?
        var seed: Double?
    }

    /// `value` (default `fallback`) as an integer in `range`, or a refusal naming `field`.
    func integer(_ value: Double?, _ field: String, in range: ClosedRange<Int>, default fallback: Int) throws -> Int {
        guard let value else { return fallback }
        guard value.rounded() == value, Double(range.lowerBound) <= value, value <= Double(range.upperBound) else {
            throw Refusal("\(field): \(value.rounded() == value && abs(value) < 1e15 ? String(Int(value)) : String(value)); expected an integer in \(range.lowerBound)...\(range.upperBound)")
        }
        return Int(value)
    }

    struct Image: Encodable {
        var caption: Int?
        var sample: Int?
        var step: Int?
        var png: String  // base64
    }

    struct Images: Encodable {
        let imageSize: Int
        let seed: UInt64
        let images: [Image]
    }

    /// The JSON body as a `Request`, every problem a `Refusal` naming the field. A field the route
    /// does not take (a typo such as "sample") is refused rather than silently ignored.
    func decode(_ body: [UInt8]?, fields: [String]) throws -> Request {
        guard let body else { throw Refusal("body: more than \(limits.maxBodyBytes) bytes") }
        guard !body.isEmpty else { throw Refusal("body: empty; expected a JSON object like {\"captions\": [\"a red star\"]}") }
        let request: Request
        do {
            request = try JSONDecoder().decode(Request.self, from: Data(body))
        } catch let error as DecodingError {
            throw Refusal(Self.describe(error))
        }
        if let object = try? JSONSerialization.jsonObject(with: Data(body)) as? [String: Any],
           let unknown = object.keys.sorted().first(where: { !fields.contains($0) }) {
            throw Refusal("\(unknown.prefix(60)): unknown field; expected \(fields.joined(separator: ", "))")
        }
        guard request.captions.count <= limits.maxCaptions else {
            throw Refusal("captions: \(request.captions.count) given; at most \(limits.maxCaptions)")
        }
        for (i, caption) in request.captions.enumerated() {
            guard caption.count <= limits.maxCaptionCharacters else {
                throw Refusal("captions[\(i)]: \(caption.count) characters; at most \(limits.maxCaptionCharacters)")
            }
            guard encoder.tokenizer.hasWords(caption) else {
                throw Refusal("captions[\(i)]: empty (nothing in it but spaces, control or format characters, or combining marks)")
            }
        }
        return request
    }

    /// "captions[1]: expected a string", from where the decoder stopped.
    static func describe(_ error: DecodingError) -> String {
        func field(_ path: [any CodingKey]) -> String {
            guard !path.isEmpty else { return "body" }
            return path.map { $0.intValue.map { "[\($0)]" } ?? ".\($0.stringValue)" }.joined().replacingOccurrences(of: "^\\.", with: "", options: .regularExpression)
        }
        switch error {
        case .keyNotFound(let key, let context):
            return "\(field(context.codingPath + [key])): missing"
        case .typeMismatch(let type, let context), .valueNotFound(let type, let context):
            let name = String(describing: type)
            let expected = context.codingPath.isEmpty ? "a JSON object" : name == "String" ? "a string"
                : name == "Double" ? "a number" : name.hasPrefix("Array") ? "an array of strings" : name
            return "\(field(context.codingPath)): expected \(expected)"
        case .dataCorrupted(let context):
            return "\(field(context.codingPath)): \(context.codingPath.isEmpty ? "not valid JSON" : "cannot be read")"
        @unknown default:
            return "body: cannot be read as a request"
        }
    }

    func generate(_ request: Request) async throws -> Reply {
        guard !request.captions.isEmpty else { throw Refusal("captions: empty; expected 1...\(limits.maxCaptions) captions") }
        let samples = try integer(request.samples, "samples", in: 1...limits.maxSamples, default: 4)
        let seed = UInt64(try integer(request.seed, "seed", in: 0...limits.maxSeed, default: 0))
        let images = try await run(captions: request.captions) { [sampler] embeddings in
            let jobs = sampler.sampleJobs(captions: embeddings, samples: samples, seed: seed)
            return try zip(jobs, self.draw(jobs)).map { Image(caption: $0.caption, sample: $0.column, png: $1) }
        }
        return .json(Images(imageSize: imageSize, seed: seed, images: images))
    }

    func interpolate(_ request: Request) async throws -> Reply {
        guard request.captions.count == 2 else { throw Refusal("captions: \(request.captions.count) given; interpolation walks between exactly 2") }
        let steps = try integer(request.steps, "steps", in: 2...limits.maxSteps, default: 8)
        let seed = UInt64(try integer(request.seed, "seed", in: 0...limits.maxSeed, default: 0))
        let images = try await run(captions: request.captions) { [sampler] embeddings in
            // As `generate --interpolate captions`: only the caption moves, and the ends are the
            // captions' sample 0.
            let jobs = sampler.captionWalk(from: embeddings[0], to: embeddings[1], steps: steps, seed: seed)
            return try zip(jobs, self.draw(jobs)).map { Image(step: $0.column, png: $1) }
        }
        return .json(Images(imageSize: imageSize, seed: seed, images: images))
    }

    /// Embeds `captions` (one embedding [E] each) and runs `work` on them on the queue; a full
    /// queue is a 429.
    private func run<T>(captions: [String], _ work: @escaping ([[Float]]) throws -> T) async throws -> T {
        let result = try await queue.submit { [encoder] in
            // One caption at a time: the encoder's packed batches round differently with their
            // size, and a caption's images must not depend on the captions sent beside it.
            try work(try captions.map { try encoder.encode([$0]).embeddings })
        }
        guard let result else {
            throw Refusal(429, "busy: \(queue.maxWaiting) requests are already waiting for the generator; try again in a moment")
        }
        return result
    }

    /// Base64 PNGs of the images of `jobs` (on the queue only).
    private func draw(_ jobs: [ImageJob]) throws -> [String] {
        try sampler.draw(jobs).map { Data(try ImageCodec.encodePNG($0)).base64EncodedString() }
    }
}
