import FabricSystem
import Logging
import NIOCore
import NIOPosix

#if canImport(Glibc)
import Glibc
#endif

/// The daemon's events socket (a unix stream socket, mode 0600, in the
/// runtime directory): every client gets every event as a JSON line. The
/// daemon never reads from a client and never waits for one: a client whose
/// buffer is full (it reads slowly, or not at all) loses lines, counted by the
/// hub, until it catches up.
final class EventServer: Sendable {
    private let channel: any Channel
    let path: String

    /// Buffered per client before it counts as slow: a few hundred events.
    static let highWaterMark = 256 * 1024

    init(path: String, hub: EventHub, group: any EventLoopGroup, logger: Logger) throws {
        self.path = path
        // Only root may connect: the socket is 0600 from the start (umask), not after a chmod.
        let previous = umask(0o177)
        defer { umask(previous) }
        channel = try ServerBootstrap(group: group)
            .serverChannelOption(.backlog, value: 64)
            .childChannelOption(.writeBufferWaterMark, value: .init(low: Self.highWaterMark / 2, high: Self.highWaterMark))
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(EventClientHandler(hub: hub, logger: logger))
                }
            }
            .bind(unixDomainSocketPath: path, cleanupExistingSocketFile: true)
            .wait()
        chmod(path, 0o600)
    }

    func close() {
        try? channel.close().wait()
        unlink(path)
    }
}

/// One `events` client: subscribed while connected, its input discarded.
private final class EventClientHandler: ChannelInboundHandler, EventSubscriber, @unchecked Sendable {
    typealias InboundIn = ByteBuffer

    private let hub: EventHub
    private let logger: Logger
    /// Set on the event loop when the channel becomes active; read from the hub's thread.
    private let channelBox = Locked<(any Channel)?>(nil)

    init(hub: EventHub, logger: Logger) {
        self.hub = hub
        self.logger = logger
    }

    func channelActive(context: ChannelHandlerContext) {
        channelBox.withLock { $0 = context.channel }
        hub.subscribe(self)
        logger.debug("events client connected")
        context.fireChannelActive()
    }

    func channelInactive(context: ChannelHandlerContext) {
        hub.unsubscribe(self)
        channelBox.withLock { $0 = nil }
        logger.debug("events client left")
        context.fireChannelInactive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {}

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        context.close(promise: nil)
    }

    func offer(_ lines: [UInt8]) -> Bool {
        guard let channel = channelBox.withLock({ $0 }), channel.isWritable else { return false }
        channel.writeAndFlush(ByteBuffer(bytes: lines), promise: nil)
        return true
    }
}
