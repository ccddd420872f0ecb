#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
#if canImport(Glibc)
import Glibc
#endif

/// A result-stream client on a NIO channel: each line is written and flushed; lines whose write has not completed
/// yet (NIO's outbound queue, above the kernel's socket buffer) are counted, and a client with `limit` of them
/// pending is too slow and gets dropped. Writes are queued to the channel's event loop, so `deliver` never blocks.
final class ChannelResultClient: ResultClient, @unchecked Sendable {
    let channel: Channel
    private let pending = NIOLockedValueBox(0)
    /// Writes and flushes one JSON line in this transport's framing (a socket line, or an SSE event).
    private let write: @Sendable (String) -> EventLoopFuture<Void>

    init(channel: Channel, write: @escaping @Sendable (String) -> EventLoopFuture<Void>) {
        self.channel = channel
        self.write = write
    }

    func deliver(_ line: String, limit: Int) -> Bool {
        let admitted = pending.withLockedValue { count -> Bool in
            guard count < limit else { return false }
            count += 1
            return true
        }
        guard admitted else { return false }
        let pending = self.pending
        write(line).whenComplete { _ in pending.withLockedValue { $0 -= 1 } }
        return true
    }

    func close(reason: String) {
        channel.close(promise: nil)
    }
}

/// The Unix socket result stream: every connected client receives each result as one JSON line. Clients send
/// nothing (anything they send is discarded); a slow client is disconnected, never waited for.
public final class UnixSocketServer: @unchecked Sendable {
    public let path: String
    private let mode: Int
    private let broadcaster: ResultBroadcaster
    private let group: EventLoopGroup
    private var channel: Channel?
    private let children = NIOLockedValueBox([ObjectIdentifier: Channel]())
    private let log: DaemonLog

    public init(path: String, mode: Int, broadcaster: ResultBroadcaster, group: EventLoopGroup, log: DaemonLog) {
        self.path = path
        self.mode = mode
        self.broadcaster = broadcaster
        self.group = group
        self.log = log
    }

    /// Binds and listens. A socket file left by a previous run that crashed is replaced; one that a running process
    /// still listens on is an error (two daemons would both stream half the truth).
    public func start() throws {
        try Self.removeStale(path)
        let broadcaster = self.broadcaster, children = self.children, log = self.log
        let bootstrap = ServerBootstrap(group: group)
            .serverChannelOption(ChannelOptions.backlog, value: 64)
            .childChannelOption(ChannelOptions.writeBufferWaterMark, value: .init(low: 32 * 1024, high: 256 * 1024))
            .childChannelInitializer { channel in
                let client = ChannelResultClient(channel: channel) { line in
                    var buffer = channel.allocator.buffer(capacity: line.utf8.count + 1)
                    buffer.writeString(line)
                    buffer.writeInteger(UInt8(ascii: "\n"))
                    return channel.writeAndFlush(buffer)
                }
                guard broadcaster.add(client) else {
                    log.warning("results socket: refused a client (max_clients reached or stopping)")
                    return channel.close()
                }
                let id = ObjectIdentifier(channel)
                children.withLockedValue { $0[id] = channel }
                channel.closeFuture.whenComplete { _ in
                    broadcaster.remove(client)
                    children.withLockedValue { _ = $0.removeValue(forKey: id) }
                }
                return channel.pipeline.addHandler(DiscardingInboundHandler())
            }
        let channel = try bootstrap.bind(unixDomainSocketPath: path).wait()
        self.channel = channel
        if chmod(path, mode_t(mode)) != 0 {
            log.warning("results socket: cannot chmod \(path) to \(String(mode, radix: 8)): \(String(cString: strerror(errno)))")
        }
    }

    /// Closes the listener and every client, and removes the socket file.
    public func stop() {
        if let channel {
            try? channel.close().wait()
            self.channel = nil
            unlink(path)
        }
        let all = children.withLockedValue { Array($0.values) }
        for c in all { c.close(promise: nil) }
    }

    static func removeStale(_ path: String) throws {
        var st = stat()
        guard lstat(path, &st) == 0 else { return }
        guard (st.st_mode & S_IFMT) == S_IFSOCK else {
            throw DaemonError("results.socket: \(path) exists and is not a socket; not replacing it")
        }
        // Connect to see whether someone is listening.
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { return }
        defer { close(fd) }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let bytes = Array(path.utf8)
        withUnsafeMutableBytes(of: &address.sun_path) { $0.copyBytes(from: bytes.prefix($0.count - 1)) }
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        if connected == 0 { throw DaemonError("results.socket: \(path) is in use by a running process (another resnet-edge?)") }
        unlink(path)
    }
}

/// Reads and drops whatever a stream client sends (reading is also how a closed peer is noticed).
final class DiscardingInboundHandler: ChannelInboundHandler, Sendable {
    typealias InboundIn = ByteBuffer
    func channelRead(context: ChannelHandlerContext, data: NIOAny) {}
    func errorCaught(context: ChannelHandlerContext, error: Error) { context.close(promise: nil) }
}
