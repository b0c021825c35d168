import Logging
import NIOCore
import NIOHTTP1
import NIOPosix

/// `run --metrics ADDR:PORT`: the Prometheus text format at /metrics and
/// `ok` at /healthz, over swift-nio's HTTP/1 server pipeline (its parser, not
/// ours). A connection idle for `idleTimeout` is closed, so slow or silent
/// clients cost a file descriptor for seconds, not forever; a request the
/// parser refuses (garbage, a megabyte request line) gets 400 and a close.
final class MetricsServer: Sendable {
    private let channel: any Channel
    static let idleTimeout = TimeAmount.seconds(10)

    init(host: String, port: Int, metrics: DaemonMetrics, hub: EventHub?, group: any EventLoopGroup, logger: Logger) throws {
        channel = try ServerBootstrap(group: group)
            .serverChannelOption(.backlog, value: 256)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    let pipeline = channel.pipeline.syncOperations
                    try pipeline.addHandler(IdleStateHandler(readTimeout: Self.idleTimeout))
                    try pipeline.configureHTTPServerPipeline(withErrorHandling: true)
                    try pipeline.addHandler(MetricsHandler(metrics: metrics, hub: hub))
                }
            }
            .bind(host: host, port: port)
            .wait()
    }

    /// Where it listens (the port the kernel chose, for port 0).
    var localAddress: SocketAddress? { channel.localAddress }

    func close() {
        try? channel.close().wait()
    }
}

private final class MetricsHandler: ChannelInboundHandler, @unchecked Sendable {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    private let metrics: DaemonMetrics
    private let hub: EventHub?
    private var request: HTTPRequestHead?

    init(metrics: DaemonMetrics, hub: EventHub?) {
        self.metrics = metrics
        self.hub = hub
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head):
            request = head
        case .body:
            break  // no endpoint takes a body; it is read and dropped
        case .end:
            guard let head = request else { return }
            request = nil
            respond(to: head, context: context)
        }
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if event is IdleStateHandler.IdleStateEvent {
            context.close(promise: nil)
        } else {
            context.fireUserInboundEventTriggered(event)
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        context.close(promise: nil)
    }

    private func respond(to head: HTTPRequestHead, context: ChannelHandlerContext) {
        let path = head.uri.split(separator: "?", maxSplits: 1).first.map(String.init) ?? head.uri
        let status: HTTPResponseStatus
        let body: [UInt8]
        var contentType = "text/plain; charset=utf-8"
        if head.method != .GET && head.method != .HEAD {
            (status, body) = (.methodNotAllowed, Array("only GET and HEAD\n".utf8))
        } else if path == "/metrics" {
            (status, body) = (.ok, metrics.scrape(hub: hub))
            contentType = "text/plain; version=0.0.4; charset=utf-8"
        } else if path == "/healthz" {
            (status, body) = (.ok, Array("ok\n".utf8))
        } else {
            (status, body) = (.notFound, Array("not found: try /metrics or /healthz\n".utf8))
        }
        var headers = HTTPHeaders()
        headers.add(name: "Content-Type", value: contentType)
        headers.add(name: "Content-Length", value: "\(body.count)")
        let keepAlive = head.isKeepAlive
        headers.add(name: "Connection", value: keepAlive ? "keep-alive" : "close")
        context.write(wrapOutboundOut(.head(HTTPResponseHead(version: head.version, status: status, headers: headers))), promise: nil)
        if head.method != .HEAD {
            context.write(wrapOutboundOut(.body(.byteBuffer(context.channel.allocator.buffer(bytes: body)))), promise: nil)
        }
        let done = context.writeAndFlush(wrapOutboundOut(.end(nil)))
        if !keepAlive {
            let channel = context.channel
            done.whenComplete { _ in channel.close(promise: nil) }
        }
    }
}
