import Foundation
import IngestCore
import IngestService
import Logging
import TestSupport
import XCTest

/// PG_SSLMODE=verify-ca/verify-full against a real PostgreSQL with TLS on, its certificates made by
/// `openssl` in the test: the right CA connects, a wrong CA never does, and a certificate for another
/// name passes verify-ca but not verify-full.
final class PostgresTLSTests: XCTestCase {
    private var servers: [PostgresServer] = []
    private var authorities: [CertificateAuthority] = []
    private var registries: [Task<Void, Never>] = []

    override func tearDown() async throws {
        for task in registries { task.cancel(); await task.value }
        for server in servers {
            if let run = testRun, run.failureCount > 0 { print("---- postgres log ----\n\(server.log())") }
            await server.remove()
        }
        authorities.forEach { $0.remove() }
    }

    private func authority(name: String, serverNames: String = "IP:127.0.0.1,DNS:localhost") async throws -> CertificateAuthority {
        let authority = try await CertificateAuthority.make(name: name, serverNames: serverNames)
        authorities.append(authority)
        return authority
    }

    private func server(certifiedBy authority: CertificateAuthority) async throws -> PostgresServer {
        let server = try await PostgresServer.start(tls: (authority.serverCertFile, authority.serverKeyFile))
        servers.append(server)
        try await server.sql(PostgresServer.createRegistryTable)
        try await server.sql("INSERT INTO device_registry (tenant_id, device_id, site_id) VALUES ('acme', 'd1', 's1')")
        return server
    }

    /// Looks up d1 through a registry with these TLS settings: the record, or the lookup's error.
    private func lookup(_ server: PostgresServer, host: String? = nil, mode: PostgresSSLMode, rootCertificate: String?) async -> Result<DeviceRecord?, RegistryError> {
        var logger = Logger(label: "tls-test")
        logger.logLevel = .critical
        let registry = PostgresDeviceRegistry(configuration: PostgresRegistryConfiguration(
            host: host ?? server.host, port: Int(server.port), database: server.database, user: server.user, password: nil,
            sslMode: mode, sslRootCertificate: rootCertificate, poolSize: 1,
            queryTimeout: .seconds(3), reconnectBase: .milliseconds(100), reconnectMax: .seconds(1)), logger: logger)
        registries.append(Task { await registry.run() })
        do throws(RegistryError) {
            return .success(try await registry.lookup(DeviceKey(tenantID: "acme", deviceID: "d1")))
        } catch {
            return .failure(error)
        }
    }

    private func connected(_ result: Result<DeviceRecord?, RegistryError>, file: StaticString = #filePath, line: UInt = #line) {
        guard case .success(let record) = result else { return XCTFail("expected a connection, got \(result)", file: file, line: line) }
        XCTAssertEqual(record?.siteID, "s1", file: file, line: line)
    }

    private func refused(_ result: Result<DeviceRecord?, RegistryError>, file: StaticString = #filePath, line: UInt = #line) {
        if case .success = result { XCTFail("the certificate must be refused", file: file, line: line) }
    }

    func testTheRightCAConnectsAndAWrongCANeverDoes() async throws {
        let right = try await authority(name: "right-ca")
        let wrong = try await authority(name: "wrong-ca")
        let server = try await server(certifiedBy: right)
        connected(await lookup(server, mode: .verifyFull, rootCertificate: right.caFile))
        connected(await lookup(server, host: "localhost", mode: .verifyFull, rootCertificate: right.caFile))
        connected(await lookup(server, mode: .verifyCA, rootCertificate: right.caFile))
        refused(await lookup(server, mode: .verifyFull, rootCertificate: wrong.caFile))
        refused(await lookup(server, mode: .verifyCA, rootCertificate: wrong.caFile))
        // Not in the system's trust store either.
        refused(await lookup(server, mode: .verifyCA, rootCertificate: nil))
        // `require` encrypts without verifying, as libpq's does.
        connected(await lookup(server, mode: .require, rootCertificate: nil))
        let ssl = try await server.sql("SELECT count(*) FROM pg_stat_ssl WHERE ssl")
        XCTAssertNotEqual(ssl, "0", "the connections use TLS")
    }

    func testACertificateForAnotherNamePassesVerifyCAButNotVerifyFull() async throws {
        let other = try await authority(name: "other-name-ca", serverNames: "DNS:db.example")
        let server = try await server(certifiedBy: other)
        connected(await lookup(server, mode: .verifyCA, rootCertificate: other.caFile))
        refused(await lookup(server, mode: .verifyFull, rootCertificate: other.caFile))
        refused(await lookup(server, host: "localhost", mode: .verifyFull, rootCertificate: other.caFile))
    }
}
