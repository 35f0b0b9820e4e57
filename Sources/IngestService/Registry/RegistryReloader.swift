import Logging
import ServiceLifecycle
import UnixSignals

/// Reloads the registry file on SIGHUP and when its modification time changes, then clears the auth
/// cache, so a device revoked in the file is refused within seconds without a restart. Without a file
/// (REGISTRY=postgres), SIGHUP only clears the cache: every device is asked for again at once.
public final class RegistryReloader: Service {
    private let registry: FileDeviceRegistry?
    private let pollInterval: Duration
    private let onReload: @Sendable () -> Void
    private let logger: Logger

    public init(registry: FileDeviceRegistry?, pollInterval: Duration = .seconds(2), logger: Logger,
                onReload: @escaping @Sendable () -> Void) {
        self.registry = registry
        self.pollInterval = pollInterval
        self.onReload = onReload
        self.logger = logger
    }

    public func run() async throws {
        let hangups = await UnixSignalsSequence(trapping: .sighup)
        await withTaskGroup(of: Void.self) { group in
            group.addTask {
                for await _ in hangups.cancelOnGracefulShutdown() {
                    self.reload(trigger: "SIGHUP")
                }
            }
            if let registry = self.registry {
                group.addTask {
                    while !Task.isCancelled && !Task.isShuttingDownGracefully {
                        try? await Task.sleep(for: self.pollInterval)
                        if registry.hasChangedOnDisk() { self.reload(trigger: "file changed") }
                    }
                }
            }
            await group.next()
            group.cancelAll()
        }
    }

    private func reload(trigger: String) {
        guard let registry else {
            onReload()
            logger.info("auth cache cleared", metadata: ["trigger": "\(trigger)"])
            return
        }
        do {
            let count = try registry.reload()
            onReload()
            logger.info("registry reloaded", metadata: ["trigger": "\(trigger)", "path": "\(registry.path)", "devices": "\(count)"])
        } catch {
            logger.error("registry reload failed, keeping the previous records", metadata: [
                "trigger": "\(trigger)", "path": "\(registry.path)", "error": "\(error)",
            ])
            // Still clear the cache on SIGHUP: the operator asked for fresh decisions.
            if trigger == "SIGHUP" { onReload() }
        }
    }
}
