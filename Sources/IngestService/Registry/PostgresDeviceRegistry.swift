import IngestCore
import Logging
import PostgresNIO
import ServiceLifecycle
import Synchronization

/// Device records from the `device_registry` table, through a postgres-nio connection pool and
/// parameterized queries (`PostgresRegistryStatements` says why not named prepared statements).
///
/// It is a `Service`: `run()` runs the pool (which reconnects forever with its own backoff), probes the
/// server with backoff while it is down so that "registry up again" is logged even without traffic,
/// creates the table when asked to, and LISTENs on `notifyChannel` when one is set. A lookup that
/// gets no answer within `queryTimeout` throws `.unavailable`, whatever the server does (a locked
/// table, a network that swallows packets): the deadline is the client's, and the server's
/// `statement_timeout` (set to the same value) ends the statement on its side. The auth cache then
/// serves stale records or refuses the message (README "Slow or hung registry").
public final class PostgresDeviceRegistry: DeviceRegistry, Service {
    public let kind = "postgres"
    public let configuration: PostgresRegistryConfiguration
    private let client: PostgresClient
    private let logger: Logger
    private let state = Mutex(State())
    private let lookupCount = Atomic<Int>(0)

    private struct State {
        /// nil until the first answer (or failure) after start.
        var isUp: Bool?
        var schemaReady = false
        var onInvalidation: (@Sendable (RegistryInvalidation) -> Void)?
        var listening = false
    }

    public init(configuration: PostgresRegistryConfiguration, logger: Logger) {
        self.configuration = configuration
        self.logger = logger
        let tls = Self.tls(configuration)
        var clientConfiguration = PostgresClient.Configuration(
            host: configuration.host, port: configuration.port, username: configuration.user,
            password: configuration.password, database: configuration.database, tls: tls)
        clientConfiguration.options.minimumConnections = 1
        clientConfiguration.options.maximumConnections = configuration.poolSize + (configuration.notifyChannel == nil ? 0 : 1)
        clientConfiguration.options.connectTimeout = configuration.queryTimeout
        // The server gives up on a statement that waits (a lock held by another session) when we do,
        // so a hung lookup does not keep its pool connection busy after ingestd stopped waiting.
        let milliseconds = configuration.queryTimeout.components.seconds * 1000
            + configuration.queryTimeout.components.attoseconds / 1_000_000_000_000_000
        clientConfiguration.options.additionalStartupParameters = [("statement_timeout", "\(max(1, milliseconds))")]
        var background = logger
        // The pool reports every failed connection attempt; our own lines say when the registry goes
        // down and comes back, once each.
        background.logLevel = max(logger.logLevel, .error)
        client = PostgresClient(configuration: clientConfiguration, backgroundLogger: background)
    }

    /// PG_SSLMODE as postgres-nio's TLS setting (README "Registry modes"). `prefer` and `require`
    /// encrypt without verifying, like libpq's; `verify-ca` checks the chain against PG_SSLROOTCERT
    /// (or the system's CAs); `verify-full` also checks that the certificate names PG_HOST (for an
    /// IP address, NIOSSL checks the certificate's IP addresses against the peer's).
    static func tls(_ configuration: PostgresRegistryConfiguration) -> PostgresClient.Configuration.TLS {
        var tls = TLSConfiguration.makeClientConfiguration()
        if let root = configuration.sslRootCertificate { tls.trustRoots = .file(root) }
        switch configuration.sslMode {
        case .disable:
            return .disable
        case .prefer:
            tls.certificateVerification = .none
            return .prefer(tls)
        case .require:
            tls.certificateVerification = .none
            return .require(tls)
        case .verifyCA:
            tls.certificateVerification = .noHostnameVerification
            return .require(tls)
        case .verifyFull:
            tls.certificateVerification = .fullVerification
            return .require(tls)
        }
    }

    /// Called with what the auth cache must forget (NOTIFY, or everything after LISTEN reconnected).
    public func onInvalidation(_ handler: @escaping @Sendable (RegistryInvalidation) -> Void) {
        state.withLock { $0.onInvalidation = handler }
    }

    /// Queries sent to PostgreSQL (lookups and provisioning), for tests and diagnostics.
    public var queries: Int { lookupCount.load(ordering: .relaxed) }

    /// True once the last query or probe succeeded, false after one failed, nil before the first.
    public var isUp: Bool? { state.withLock { $0.isUp } }

    /// True while the LISTEN connection is established.
    public var isListening: Bool { state.withLock { $0.listening } }

    public func run() async {
        await withDiscardingTaskGroup { group in
            group.addTask { await self.client.run() }
            group.addTask { await cancelWhenGracefulShutdown { await self.superviseHealth() } }
            if let channel = self.configuration.notifyChannel {
                group.addTask { await cancelWhenGracefulShutdown { await self.listen(on: channel) } }
            }
        }
    }

    // MARK: lookups

    /// No more lookups at once than the pool has connections: more would only queue for one.
    public var maxConcurrentLookups: Int? { configuration.poolSize }

    public func lookup(_ key: DeviceKey) async throws(RegistryError) -> DeviceRecord? {
        lookupCount.add(1, ordering: .relaxed)
        let query = PostgresRegistryStatements.lookup(tenantID: key.tenantID, deviceID: key.deviceID)
        let client = self.client
        let row: PostgresRegistryStatements.LookupRow? = try await attempt("lookup") {
            for try await row in try await client.query(query).decode(PostgresRegistryStatements.LookupRow.self) { return row }
            return nil
        }
        return row.map { DeviceRecord(tenantID: key.tenantID, deviceID: key.deviceID, siteID: $0.0, status: $0.1, provisionTokenHash: $0.2) }
    }

    public func provisionIfUnknown(_ key: DeviceKey, siteID: String) async throws(RegistryError) -> Bool {
        lookupCount.add(1, ordering: .relaxed)
        let query = PostgresRegistryStatements.provision(tenantID: key.tenantID, deviceID: key.deviceID, siteID: siteID)
        let client = self.client
        let inserted: Bool = try await attempt("provision") {
            for try await _ in try await client.query(query) { return true }
            return false
        }
        if inserted {
            logger.notice("device auto-provisioned", metadata: [
                "tenant_id": "\(key.tenantID)", "device_id": "\(key.deviceID)", "site_id": "\(siteID)",
            ])
        }
        return inserted
    }

    /// Runs `body` with the query timeout, recording whether the server answered.
    private func attempt<Value: Sendable>(
        _ what: String, _ body: @escaping @Sendable () async throws -> Value
    ) async throws(RegistryError) -> Value {
        do {
            let value = try await withTimeout(configuration.queryTimeout, body)
            markUp()
            return value
        } catch {
            let reason = Self.describe(error)
            markDown(reason)
            throw .unavailable(reason: "\(what) failed: \(reason)")
        }
    }

    /// `body` within `timeout`, however long PostgreSQL takes to answer (see `DeadlineRace`).
    private func withTimeout<Value: Sendable>(
        _ timeout: Duration, _ body: @escaping @Sendable () async throws -> Value
    ) async throws -> Value {
        guard let value = try await DeadlineRace.run(until: .now + timeout, body) else {
            throw PostgresRegistryTimeout(timeout: timeout)
        }
        return value
    }

    // MARK: health

    private func markUp() {
        let previous = state.withLock { state -> Bool? in
            let previous = state.isUp
            state.isUp = true
            return previous
        }
        if previous == false {
            logger.notice("registry available again", metadata: metadata)
        } else if previous == nil {
            logger.info("registry connected", metadata: metadata)
        }
    }

    private func markDown(_ reason: String) {
        let previous = state.withLock { state -> Bool? in
            let previous = state.isUp
            state.isUp = false
            return previous
        }
        if previous != false {
            var fields = metadata
            fields["error"] = "\(reason)"
            logger.warning("registry unavailable, reconnecting with backoff", metadata: fields)
        }
    }

    private var metadata: Logger.Metadata {
        ["registry": "postgres", "host": "\(configuration.host)", "port": "\(configuration.port)", "database": "\(configuration.database)"]
    }

    /// Probes the table whenever it is not known to be up (at start, after a failed lookup), with
    /// backoff, and creates the table once when asked to.
    private func superviseHealth() async {
        var delay = configuration.reconnectBase
        while !Task.isCancelled {
            let (up, schemaReady) = state.withLock { ($0.isUp, $0.schemaReady) }
            if up == true && (schemaReady || !configuration.createSchema) {
                delay = configuration.reconnectBase
                try? await Task.sleep(for: .milliseconds(250))
                continue
            }
            let client = self.client
            do {
                if configuration.createSchema && !schemaReady {
                    _ = try await withTimeout(configuration.queryTimeout) {
                        for try await _ in try await client.query(PostgresRegistryStatements.createTable) {}
                        return true
                    }
                    state.withLock { $0.schemaReady = true }
                    logger.info("registry table ready (REGISTRY_CREATE_SCHEMA=1)", metadata: metadata)
                } else {
                    // The table, not just the server: a table locked by another session (a migration,
                    // VACUUM FULL) answers no lookup, and the registry must not look up meanwhile.
                    _ = try await withTimeout(configuration.queryTimeout) {
                        for try await _ in try await client.query(PostgresRegistryStatements.probe) {}
                        return true
                    }
                }
                markUp()
                delay = configuration.reconnectBase
            } catch {
                if Task.isCancelled { return }
                markDown(Self.describe(error))
                try? await Task.sleep(for: delay)
                delay = min(delay * 2, configuration.reconnectMax)
            }
        }
    }

    // MARK: LISTEN/NOTIFY

    private func listen(on channel: String) async {
        var delay = configuration.reconnectBase
        while !Task.isCancelled {
            do {
                try await client.withConnection { connection in
                    try await connection.listen(on: channel) { notifications in
                        self.state.withLock { $0.listening = true }
                        self.logger.info("registry notifications on", metadata: ["channel": "\(channel)"])
                        // Anything sent while we were not listening is lost: forget every cached record.
                        self.invalidate(.all)
                        delay = self.configuration.reconnectBase
                        for try await notification in notifications {
                            self.invalidate(RegistryInvalidation(notificationPayload: notification.payload))
                        }
                    }
                }
            } catch {
                if Task.isCancelled { break }
                let wasListening = state.withLock { state -> Bool in
                    defer { state.listening = false }
                    return state.listening
                }
                if wasListening {
                    logger.warning("registry notifications lost, listening again with backoff", metadata: [
                        "channel": "\(channel)", "error": "\(Self.describe(error))",
                    ])
                }
            }
            state.withLock { $0.listening = false }
            try? await Task.sleep(for: delay)
            delay = min(delay * 2, configuration.reconnectMax)
        }
    }

    private func invalidate(_ invalidation: RegistryInvalidation) {
        let handler = state.withLock { $0.onInvalidation }
        handler?(invalidation)
        if case let .device(key) = invalidation {
            logger.debug("registry notification", metadata: ["tenant_id": "\(key.tenantID)", "device_id": "\(key.deviceID)"])
        }
    }

    /// A short reason for logs. postgres-nio keeps `PSQLError.description` vague on purpose; the
    /// server's message and SQLSTATE are what an operator needs (no password is ever part of them).
    static func describe(_ error: any Error) -> String {
        if let error = error as? PSQLError {
            var parts = ["\(error.code)"]
            if let message = error.serverInfo?[.message] { parts.append(message) }
            if let state = error.serverInfo?[.sqlState] { parts.append("sqlstate \(state)") }
            if let underlying = error.underlying { parts.append("\(underlying)") }
            return parts.joined(separator: ": ")
        }
        return "\(error)"
    }
}

/// A lookup that did not finish within the query timeout.
struct PostgresRegistryTimeout: Error, CustomStringConvertible {
    let timeout: Duration
    var description: String { "no answer within \(timeout)" }
}
