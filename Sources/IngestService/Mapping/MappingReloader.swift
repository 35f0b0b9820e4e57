import IngestCore
import Logging
import ServiceLifecycle
import UnixSignals

/// Reads MAPPING_FILE again on SIGHUP. A file that does not load keeps the rules in force and
/// logs why (README, "Mapping other devices"); the subscriptions stay those made at start.
public final class MappingReloader: Service {
    private let path: String
    private let loader: MappingFileLoader
    private let store: MappingRulesStore
    private let logger: Logger

    public init(path: String, loader: MappingFileLoader, store: MappingRulesStore, logger: Logger) {
        self.path = path
        self.loader = loader
        self.store = store
        self.logger = logger
    }

    public func run() async throws {
        let hangups = await UnixSignalsSequence(trapping: .sighup)
        for await _ in hangups.cancelOnGracefulShutdown() {
            reload()
        }
    }

    func reload() {
        do {
            let rules = try loader.load(path: path)
            store.replace(with: rules)
            logger.info("mapping rules reloaded", metadata: ["path": "\(path)", "rules": "\(rules.rules.count)"])
        } catch {
            logger.error("mapping file reload failed, keeping the previous rules", metadata: [
                "path": "\(path)", "rule": "\(error.rule)", "field": "\(error.field)", "error": "\(error.message)",
            ])
        }
    }
}
