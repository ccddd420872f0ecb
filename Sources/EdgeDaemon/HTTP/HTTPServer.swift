#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import NIOConcurrencyHelpers
import NIOCore
import NIOHTTP1
import NIOPosix

/// What the HTTP endpoints serve; the daemon provides it.
public struct HTTPEndpoints: Sendable {
    /// GET /latest: the newest result JSON, or nil before the first.
    public var latest: @Sendable () -> String?
    /// GET /metrics: the Prometheus exposition text.
    public var metrics: @Sendable () -> [UInt8]
    /// GET /healthz: healthy or not, and a JSON body.
    public var health: @Sendable () -> (healthy: Bool, json: String)

    public init(latest: @escaping @Sendable () -> String?, metrics: @escaping @Sendable () -> [UInt8],
                health: @escaping @Sendable () -> (healthy: Bool, json: String)) {
        self.latest = latest
        self.metrics = metrics
        self.health = health
    }
}

/// The HTTP side: GET /latest, /events (Server-Sent Events), /metrics, /healthz, on SwiftNIO's HTTP/1.1 codec.
///
/// Why NIOHTTP1 and not a framework: four fixed GET routes need no router or middleware, and the /events stream
/// must drop a slow reader exactly as the Unix socket does; with both on plain NIO channels they share one client
/// type (`ChannelResultClient`). swift-nio is needed for the socket anyway, so HTTP adds no package.
public final class HTTPServer: @unchecked Sendable {
    private let endpoints: HTTPEndpoints
    private let broadcaster: ResultBroadcaster
    private let group: EventLoopGroup
    private let log: DaemonLog
    private var channel: Channel?
    private let children = NIOLockedValueBox([ObjectIdentifier: Channel]())
    /// Seconds between SSE comment lines that keep an idle /events connection (and proxies) alive.
    public var keepAliveInterval: Double = 15

    public init(endpoints: HTTPEndpoints, broadcaster: ResultBroadcaster, group: EventLoopGroup, log: DaemonLog) {
        self.endpoints = endpoints
        self.broadcaster = broadcaster
        self.group = group
        self.log = log
    }

    /// Binds host:port; returns the port actually bound (port 0 picks a free one).
    @discardableResult
    public func start(host: String, port: Int) throws -> Int {
        let endpoints = self.endpoints, broadcaster = self.broadcaster, children = self.children, log = self.log
        let keepAlive = keepAliveInterval
        let bootstrap = ServerBootstrap(group: group)
            .serverChannelOption(ChannelOptions.backlog, value: 64)
            .serverChannelOption(ChannelOptions.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(ChannelOptions.writeBufferWaterMark, value: .init(low: 32 * 1024, high: 256 * 1024))
            .childChannelInitializer { channel in
                let id = ObjectIdentifier(channel)
                children.withLockedValue { $0[id] = channel }
                channel.closeFuture.whenComplete { _ in children.withLockedValue { _ = $0.removeValue(forKey: id) } }
                return channel.pipeline.configureHTTPServerPipeline(withErrorHandling: true).flatMap {
                    channel.pipeline.addHandler(HTTPRequestHandler(endpoints: endpoints, broadcaster: broadcaster, log: log,
                                                                   keepAliveInterval: keepAlive))
                }
            }
        do {
            let channel = try bootstrap.bind(host: host, port: port).wait()
            self.channel = channel
            return channel.localAddress?.port ?? port
        } catch {
            throw DaemonError("results.http_listen: cannot listen on \(host):\(port): \(error)")
        }
    }

    public var port: Int? { channel?.localAddress?.port }

    /// Stops listening and closes every connection (open /events streams included).
    public func stop() {
        if let channel {
            try? channel.close().wait()
            self.channel = nil
        }
        let all = children.withLockedValue { Array($0.values) }
        for c in all { c.close(promise: nil) }
    }
}

/// One HTTP connection: answers GET/HEAD requests; /events turns the connection into an event stream.
final class HTTPRequestHandler: ChannelInboundHandler, @unchecked Sendable {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    private let endpoints: HTTPEndpoints
    private let broadcaster: ResultBroadcaster
    private let log: DaemonLog
    private let keepAliveInterval: Double
    private var request: HTTPRequestHead?
    private var streaming = false
    private var keepAliveTask: RepeatedTask?

    init(endpoints: HTTPEndpoints, broadcaster: ResultBroadcaster, log: DaemonLog, keepAliveInterval: Double) {
        self.endpoints = endpoints
        self.broadcaster = broadcaster
        self.log = log
        self.keepAliveInterval = keepAliveInterval
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head):
            request = head
        case .body:
            break   // GET bodies are ignored
        case .end:
            guard let head = request, !streaming else { return }
            request = nil
            respond(context: context, head: head)
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        keepAliveTask?.cancel()
        keepAliveTask = nil
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        context.close(promise: nil)
    }

    private func respond(context: ChannelHandlerContext, head: HTTPRequestHead) {
        let path = head.uri.split(separator: "?", maxSplits: 1).first.map(String.init) ?? head.uri
        let routes = ["/", "/latest", "/events", "/metrics", "/healthz"]
        guard routes.contains(path) else {
            return send(context, head, status: .notFound, type: "application/json", body: #"{"error":"not found","endpoints":["/latest","/events","/metrics","/healthz"]}"#)
        }
        guard head.method == .GET || head.method == .HEAD else {
            return send(context, head, status: .methodNotAllowed, type: "application/json", body: #"{"error":"only GET and HEAD"}"#,
                        extra: [("Allow", "GET, HEAD")])
        }
        switch path {
        case "/latest":
            if let latest = endpoints.latest() {
                send(context, head, status: .ok, type: "application/json", body: latest + "\n")
            } else {
                send(context, head, status: .serviceUnavailable, type: "application/json", body: #"{"error":"no frame classified yet"}"# + "\n",
                     extra: [("Retry-After", "1")])
            }
        case "/metrics":
            send(context, head, status: .ok, type: "text/plain; version=0.0.4; charset=utf-8", bytes: endpoints.metrics())
        case "/healthz":
            let (healthy, json) = endpoints.health()
            send(context, head, status: healthy ? .ok : .serviceUnavailable, type: "application/json", body: json + "\n")
        case "/events":
            startEvents(context: context, head: head)
        default:
            send(context, head, status: .ok, type: "text/plain; charset=utf-8",
                 body: "resnet-edge\n  GET /latest    the newest result (JSON)\n  GET /events    every result (Server-Sent Events)\n  GET /metrics   Prometheus metrics\n  GET /healthz   200 while frames are classified, else 503\n")
        }
    }

    private func send(_ context: ChannelHandlerContext, _ request: HTTPRequestHead, status: HTTPResponseStatus, type: String, body: String,
                      extra: [(String, String)] = []) {
        send(context, request, status: status, type: type, bytes: Array(body.utf8), extra: extra)
    }

    private func send(_ context: ChannelHandlerContext, _ request: HTTPRequestHead, status: HTTPResponseStatus, type: String, bytes: [UInt8],
                      extra: [(String, String)] = []) {
        var headers = HTTPHeaders([("Content-Type", type), ("Content-Length", String(bytes.count)), ("Cache-Control", "no-store")])
        for (k, v) in extra { headers.add(name: k, value: v) }
        let keepAlive = request.isKeepAlive
        if !keepAlive { headers.add(name: "Connection", value: "close") }
        context.write(wrapOutboundOut(.head(HTTPResponseHead(version: request.version, status: status, headers: headers))), promise: nil)
        if request.method != .HEAD {
            var buffer = context.channel.allocator.buffer(capacity: bytes.count)
            buffer.writeBytes(bytes)
            context.write(wrapOutboundOut(.body(.byteBuffer(buffer))), promise: nil)
        }
        let done = context.writeAndFlush(wrapOutboundOut(.end(nil)))
        if !keepAlive {
            let channel = context.channel
            done.whenComplete { _ in channel.close(promise: nil) }
        }
    }

    /// Server-Sent Events: the response never ends; each result is one `data:` event (with its sequence as `id:`),
    /// starting with the latest one so a client sees a result at once.
    private func startEvents(context: ChannelHandlerContext, head: HTTPRequestHead) {
        let channel = context.channel
        let client = ChannelResultClient(channel: channel) { line in
            var buffer = channel.allocator.buffer(capacity: line.utf8.count + 32)
            buffer.writeString(Self.event(line))
            return channel.writeAndFlush(HTTPServerResponsePart.body(.byteBuffer(buffer)))
        }
        guard broadcaster.add(client) else {
            return send(context, head, status: .serviceUnavailable, type: "application/json", body: #"{"error":"too many stream clients"}"# + "\n")
        }
        streaming = true
        let broadcaster = self.broadcaster
        channel.closeFuture.whenComplete { _ in broadcaster.remove(client) }
        let headers = HTTPHeaders([("Content-Type", "text/event-stream"), ("Cache-Control", "no-store"), ("X-Accel-Buffering", "no")])
        context.write(wrapOutboundOut(.head(HTTPResponseHead(version: head.version, status: .ok, headers: headers))), promise: nil)
        var first = context.channel.allocator.buffer(capacity: 512)
        first.writeString(": resnet-edge results\nretry: 1000\n\n")
        if let latest = endpoints.latest() { first.writeString(Self.event(latest)) }
        context.writeAndFlush(wrapOutboundOut(.body(.byteBuffer(first))), promise: nil)
        if head.method == .HEAD {
            broadcaster.remove(client)
            context.writeAndFlush(wrapOutboundOut(.end(nil))).whenComplete { _ in channel.close(promise: nil) }
            return
        }
        let interval = TimeAmount.milliseconds(Int64(keepAliveInterval * 1000))
        keepAliveTask = context.eventLoop.scheduleRepeatedTask(initialDelay: interval, delay: interval) { _ in
            var buffer = channel.allocator.buffer(capacity: 16)
            buffer.writeString(": keep-alive\n\n")
            channel.writeAndFlush(HTTPServerResponsePart.body(.byteBuffer(buffer)), promise: nil)
        }
    }

    static func event(_ json: String) -> String {
        // The sequence number as the event id lets a client see gaps.
        var id = ""
        if json.hasPrefix("{\"sequence\":"), let comma = json.firstIndex(of: ",") {
            id = "id: " + json[json.index(json.startIndex, offsetBy: 12)..<comma] + "\n"
        }
        return id + "data: " + json + "\n\n"
    }
}
