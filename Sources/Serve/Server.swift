import Foundation
import Hummingbird

/// `ServeAPI` over HTTP/1.1 on Hummingbird: the one place that knows about swift-nio. Every request
/// goes to `ServeAPI.respond`; bodies are read up to `limits.maxBodyBytes` and no further.
public enum Server {
    /// Serves `api` on `host:port` (port 0: any free port) until SIGINT or SIGTERM, or until the
    /// calling task is cancelled. `onRunning` gets the port actually bound.
    public static func run(_ api: ServeAPI, host: String, port: Int, onRunning: @escaping @Sendable (Int) -> Void = { _ in }) async throws {
        let limit = api.limits.maxBodyBytes
        let bound = BoundPort(port)
        let responder = CallbackResponder<BasicRequestContext> { request, _ in
            var body: [UInt8]?
            if request.method == .post {
                // A body past the limit stops being read there: nil, answered 400 by the API.
                body = (try? await request.body.collect(upTo: limit)).map { Array(buffer: $0) }
            }
            let caller = ServeAPI.Caller(host: request.head.authority, origin: request.headers[.origin],
                                         contentType: request.headers[.contentType], port: bound.port)
            let reply = await api.respond(method: request.method.rawValue, path: request.uri.path, body: body, caller: caller)
            var headers: HTTPFields = [.contentType: reply.contentType, .cacheControl: "no-store"]
            if let seconds = reply.retryAfterSeconds { headers[.retryAfter] = String(seconds) }
            return Response(status: .init(code: reply.status), headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: reply.body)))
        }
        let app = Application(responder: responder,
                              configuration: .init(address: .hostname(host, port: port), serverName: "stackgan"),
                              onServerRunning: { channel in
                                  bound.port = channel.localAddress?.port ?? port
                                  onRunning(bound.port)
                              })
        try await app.runService()
    }
}

/// The port actually bound (port 0 asks for any), set once when the server starts, before any request.
private final class BoundPort: @unchecked Sendable {
    private let lock = NSLock()
    private var value: Int
    init(_ port: Int) { value = port }
    var port: Int {
        get { lock.withLock { value } }
        set { lock.withLock { value = newValue } }
    }
}
