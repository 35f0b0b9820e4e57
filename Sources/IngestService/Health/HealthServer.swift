import IngestCore
import Logging
import NIOCore
import NIOHTTP1
import NIOPosix
import ServiceLifecycle

/// The HTTP server of `HEALTH_LISTEN`: `/healthz`, `/readyz`, `/metrics` (see ``HealthRoutes``).
///
/// swift-nio's HTTP/1 codec on one event-loop thread of its own, so a scrape never competes with
/// the pipeline for Swift's cooperative pool. Listed first among the daemon's services, it stops
/// last: `/healthz` keeps answering while ingestd drains.
public final class HealthServer: Service, Sendable {
    public let address: Settings.ListenAddress
    private let routes: HealthRoutes
    private let logger: Logger

    public init(address: Settings.ListenAddress, routes: HealthRoutes, logger: Logger) {
        self.address = address
        self.routes = routes
        self.logger = logger
    }

    public func run() async throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let routes = self.routes
        let channel: any Channel
        do {
            channel = try await ServerBootstrap(group: group)
                .serverChannelOption(.backlog, value: 64)
                .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
                .childChannelInitializer { channel in
                    channel.eventLoop.makeCompletedFuture {
                        try channel.pipeline.syncOperations.configureHTTPServerPipeline(withErrorHandling: true)
                        try channel.pipeline.syncOperations.addHandler(HealthHTTPHandler(routes: routes))
                    }
                }
                .bind(host: address.host, port: address.port)
                .get()
        } catch {
            logger.error("health server cannot listen", metadata: [
                "variable": "HEALTH_LISTEN", "address": "\(address)", "error": "\(error)",
            ])
            try? await group.shutdownGracefully()
            throw error
        }
        logger.info("health server listening", metadata: [
            "address": "\(address)", "paths": "/healthz,/readyz,/metrics",
        ])
        try? await gracefulShutdown()
        try? await channel.close()
        try? await group.shutdownGracefully()
    }
}
