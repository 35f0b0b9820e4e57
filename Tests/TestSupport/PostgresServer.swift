import Foundation
import Synchronization

/// A real PostgreSQL (Debian's `postgresql` package) in a temporary data directory on a free loopback
/// port. `initdb`, `pg_ctl` and `postgres` refuse to run as root, so as root every command runs as the
/// `postgres` system user (`runuser -u postgres --`) in a folder that user owns. `stop()`/`launch()`
/// simulate an outage on the same port and data (`pg_ctl stop -m fast`, then the server again). Trust authentication
/// on loopback, fsync off: a throw-away server for tests.
public final class PostgresServer: Sendable {
    public let host = "127.0.0.1"
    public let port: UInt16
    public let directory: TemporaryDirectory
    public let user = "postgres"
    public let database = "postgres"
    private let binaries: String
    private let starts = Atomic<Int>(0)
    private let process = Mutex<ChildProcess?>(nil)

    public var dataDirectory: String { directory.file("data") }

    /// initdb + start, waiting until the server accepts connections. With `tls` (a certificate and
    /// its key, PEM), the server also accepts TLS connections (`ssl=on`) with that certificate.
    public static func start(tls: (certificate: String, key: String)? = nil) async throws -> PostgresServer {
        let server = try await PostgresServer(port: FreePort.next(), tls: tls)
        try await server.launch()
        return server
    }

    private let tlsSettings: [String]

    private init(port: UInt16, tls: (certificate: String, key: String)?) async throws {
        self.port = port
        guard let binaries = Self.findBinaries() else { throw PostgresServerError("PostgreSQL server binaries (initdb, pg_ctl) not found; install the postgresql package") }
        self.binaries = binaries
        let folder = try TemporaryDirectory(prefix: "postgres")
        directory = folder
        if geteuid() == 0 {
            try await Self.run("/bin/chown", ["-R", "postgres:postgres", folder.path], asPostgres: false, log: nil)
        }
        if let tls {
            // The server reads its key only when the server's user owns it and no one else can read it.
            let certificate = folder.file("server.crt"), key = folder.file("server.key")
            try FileManager.default.copyItem(atPath: tls.certificate, toPath: certificate)
            try FileManager.default.copyItem(atPath: tls.key, toPath: key)
            try FileManager.default.setAttributes([.posixPermissions: 0o600], ofItemAtPath: key)
            if geteuid() == 0 {
                try await Self.run("/bin/chown", ["postgres:postgres", certificate, key], asPostgres: false, log: nil)
            }
            tlsSettings = ["-c", "ssl=on", "-c", "ssl_cert_file=\(certificate)", "-c", "ssl_key_file=\(key)"]
        } else {
            tlsSettings = []
        }
        let log = directory.file("initdb.log")
        try await Self.run("\(binaries)/initdb", ["-D", dataDirectory, "-U", user, "-A", "trust", "-E", "UTF8", "--no-sync"], log: log)
    }

    /// The newest `/usr/lib/postgresql/<version>/bin`, or a folder on PATH holding `pg_ctl`.
    static func findBinaries() -> String? {
        let root = "/usr/lib/postgresql"
        let versions = ((try? FileManager.default.contentsOfDirectory(atPath: root)) ?? []).compactMap(Int.init).sorted()
        for version in versions.reversed() where FileManager.default.isExecutableFile(atPath: "\(root)/\(version)/bin/pg_ctl") {
            return "\(root)/\(version)/bin"
        }
        return ExecutableLocator.find("pg_ctl").map { ($0 as NSString).deletingLastPathComponent }
    }

    /// Starts the server (again, on the same port and data) and waits until it accepts connections.
    /// `postgres` runs in the foreground as a child process (not daemonized by `pg_ctl start`), so the
    /// test owns it and sees it exit.
    public func launch() async throws {
        let n = starts.add(1, ordering: .relaxed).newValue
        let arguments = ["-D", dataDirectory, "-p", "\(port)", "-k", directory.path,
                         "-c", "listen_addresses=127.0.0.1", "-c", "fsync=off", "-c", "full_page_writes=off"] + tlsSettings
        let (program, fullArguments) = Self.command("\(binaries)/postgres", arguments)
        let child = try ChildProcess(name: "postgres:\(port)", executable: program, arguments: fullArguments,
                                     logPath: directory.file("postgres-\(n).log"))
        process.withLock { $0 = child }
        do {
            try await eventually("PostgreSQL accepts connections on \(port)", timeout: 60) {
                if !child.isRunning { throw PostgresServerError("postgres exited with \(child.exitCode ?? -1):\n\(child.log())") }
                return FreePort.isListening(port)
            }
            // Listening is not yet accepting queries (recovery may still run): wait for a query to pass.
            try await eventually("PostgreSQL answers queries on \(port)", timeout: 60, every: 0.1) {
                (try? await self.sql("SELECT 1")) == "1"
            }
        } catch {
            await stop()
            throw error
        }
    }

    /// `pg_ctl stop -m fast` (clients are disconnected at once), then waits for the server to exit.
    public func stop() async {
        guard let child = process.withLock({ $0 }), child.isRunning else { return }
        let n = starts.load(ordering: .relaxed)
        _ = try? await Self.run("\(binaries)/pg_ctl", ["-D", dataDirectory, "-m", "fast", "-w", "-t", "60", "stop"],
                                log: directory.file("pg_ctl-stop-\(n).log"))
        if (try? await child.waitForExit(timeout: 60)) == nil { await child.stop() }
    }

    public func remove() async {
        await stop()
        directory.remove()
    }

    /// Runs SQL with `psql` and returns what it printed (unaligned, tuples only).
    @discardableResult
    public func sql(_ statement: String) async throws -> String {
        let output = directory.file("psql-\(UUID().uuidString).out")
        defer { try? FileManager.default.removeItem(atPath: output) }
        try await Self.run("\(binaries)/psql", [
            "-h", host, "-p", "\(port)", "-U", user, "-d", database, "-v", "ON_ERROR_STOP=1", "-X", "-q", "-A", "-t", "-c", statement,
        ], log: output)
        return ((try? String(contentsOfFile: output, encoding: .utf8)) ?? "").trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// Runs SQL with `psql` in the background, as another session would (e.g. a transaction holding a
    /// lock); stopping the returned process ends the session, and the server rolls back what it held.
    public func backgroundSession(_ statement: String) throws -> ChildProcess {
        let (program, arguments) = Self.command("\(binaries)/psql", [
            "-h", host, "-p", "\(port)", "-U", user, "-d", database, "-v", "ON_ERROR_STOP=1", "-X", "-q", "-A", "-t", "-c", statement,
        ])
        return try ChildProcess(name: "psql session", executable: program, arguments: arguments,
                                logPath: directory.file("session-\(UUID().uuidString).log"))
    }

    /// Another session takes `LOCK TABLE … IN ACCESS EXCLUSIVE MODE` on `table` and holds it (as a
    /// migration or `VACUUM FULL` would) until `releaseTableLock(_:)`; returns once the lock is granted.
    public func holdTableLock(_ table: String) async throws -> ChildProcess {
        let session = try backgroundSession("BEGIN; LOCK TABLE \(table) IN ACCESS EXCLUSIVE MODE; SELECT pg_sleep(3600);")
        try await eventually("another session holds a lock on \(table)", timeout: 30, every: 0.1) {
            if !session.isRunning { throw PostgresServerError("the locking session ended: \(session.log())") }
            return try await self.isTableLocked(table)
        }
        return session
    }

    /// True while a session holds an ACCESS EXCLUSIVE lock on `table`.
    public func isTableLocked(_ table: String) async throws -> Bool {
        try await sql("""
            SELECT count(*) FROM pg_locks l JOIN pg_class c ON c.oid = l.relation \
            WHERE c.relname = '\(table)' AND l.mode = 'AccessExclusiveLock' AND l.granted
            """) == "1"
    }

    /// Ends the session of `holdTableLock`: the server rolls its transaction back and the lock goes.
    public func releaseTableLock(_ session: ChildProcess) async throws {
        try await sql("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE query LIKE '%pg_sleep(3600)%' AND pid <> pg_backend_pid()")
        await session.stop(grace: 2)
    }

    /// The `device_registry` table of the service ingestd replaces.
    public static let createRegistryTable = """
        CREATE TABLE device_registry (tenant_id TEXT NOT NULL, device_id TEXT NOT NULL, site_id TEXT NOT NULL, \
        status TEXT NOT NULL DEFAULT 'ACTIVE', provisioned_at TIMESTAMPTZ NOT NULL DEFAULT now(), \
        provision_token_hash TEXT NULL, device_pubkey TEXT NULL, fw_version TEXT NULL, \
        metadata JSONB NOT NULL DEFAULT '{}'::jsonb, PRIMARY KEY (tenant_id, device_id))
        """

    /// The trigger README documents for REGISTRY_NOTIFY_CHANNEL.
    public static func notifyTrigger(channel: String) -> String {
        """
        CREATE OR REPLACE FUNCTION device_registry_notify() RETURNS trigger AS $$
        BEGIN
          IF TG_OP = 'DELETE' THEN
            PERFORM pg_notify('\(channel)', OLD.tenant_id || '/' || OLD.device_id);
          ELSE
            PERFORM pg_notify('\(channel)', NEW.tenant_id || '/' || NEW.device_id);
          END IF;
          RETURN NULL;
        END $$ LANGUAGE plpgsql;
        CREATE TRIGGER device_registry_notify AFTER INSERT OR UPDATE OR DELETE ON device_registry
          FOR EACH ROW EXECUTE FUNCTION device_registry_notify();
        """
    }

    /// Everything the server logged, across restarts.
    public func log() -> String {
        let files = (try? FileManager.default.contentsOfDirectory(atPath: directory.path)) ?? []
        return files.filter { $0.hasSuffix(".log") }.sorted()
            .compactMap { try? String(contentsOfFile: directory.file($0), encoding: .utf8) }
            .joined(separator: "\n")
    }

    /// The command line that runs `executable` as `postgres` when we are root.
    private static func command(_ executable: String, _ arguments: [String]) -> (String, [String]) {
        guard geteuid() == 0 else { return (executable, arguments) }
        return (ExecutableLocator.find("runuser") ?? "/usr/sbin/runuser", ["-u", "postgres", "--", executable] + arguments)
    }

    /// Runs a command to completion (as `postgres` when we are root), its output into `log`.
    private static func run(_ executable: String, _ arguments: [String], asPostgres: Bool = true, log: String?) async throws {
        let logPath = log ?? FileManager.default.temporaryDirectory.appendingPathComponent("pg-\(UUID().uuidString).log").path
        let (program, fullArguments) = asPostgres ? command(executable, arguments) : (executable, arguments)
        let child = try ChildProcess(name: (executable as NSString).lastPathComponent, executable: program,
                                     arguments: fullArguments, logPath: logPath)
        let code = try await child.waitForExit(timeout: 120)
        if log == nil { try? FileManager.default.removeItem(atPath: logPath) }
        guard code == 0 else {
            throw PostgresServerError("\(executable) \(arguments.joined(separator: " ")) exited with \(code): \(child.log())")
        }
    }
}

public struct PostgresServerError: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}
