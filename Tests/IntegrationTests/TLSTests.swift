import Foundation
import TestSupport
import XCTest

/// MQTT over TLS with certificates made by `openssl`: ingestd verifies the broker's certificate
/// against MQTT_TLS_CA_FILE, and a wrong CA is refused with a clear log line (never a fallback to
/// plain text).
final class TLSTests: XCTestCase {
    private var harness: IngestdHarness!
    private var authority: CertificateAuthority!
    private var tlsBroker: MosquittoServer!
    private var tlsPort: UInt16 = 0

    override func setUp() async throws {
        harness = try await IngestdHarness.start()
        authority = try await CertificateAuthority.make()
        tlsPort = FreePort.next()
        // A plain listener (the broker's own port, used to publish) and a TLS listener that also
        // accepts client certificates signed by the CA.
        tlsBroker = try await MosquittoServer.start(extraConfig: [
            "listener \(tlsPort) 127.0.0.1",
            "cafile \(authority.caFile)",
            "certfile \(authority.serverCertFile)",
            "keyfile \(authority.serverKeyFile)",
            "require_certificate false",
        ])
        var fleet = Fleet()
        fleet.add("d1")
        try fleet.write(to: harness.registryPath)
    }

    override func tearDown() async throws {
        if let run = testRun, run.failureCount > 0 { print("---- ingestd log ----\n\(harness.log)\n---- broker ----\n\(tlsBroker.log())") }
        await harness.tearDown()
        await tlsBroker.remove()
        authority.remove()
    }

    func testDeliversThroughATLSListener() async throws {
        try await deliversThroughATLSListener(client: "native")
    }

    func testDeliversThroughATLSListenerWithLibmosquitto() async throws {
        try await deliversThroughATLSListener(client: "libmosquitto")
        XCTAssertTrue(harness.log.contains("client=libmosquitto"))
    }

    private func deliversThroughATLSListener(client: String) async throws {
        try await harness.startIngestd([
            "MQTT_HOST": "localhost", "MQTT_PORT": "\(tlsPort)", "MQTT_TLS_CA_FILE": authority.caFile, "MQTT_CLIENT": client,
        ])
        try await tlsBroker.publish(topic: Fleet.topic("d1"), lines: (0..<20).map { Fleet.telemetry("d1", seq: $0) })
        try await harness.waitUntilReceived(20)
        let value1 = try await harness.stopIngestd()
        XCTAssertEqual(value1, 0)
        let value2 = try await harness.count()
        XCTAssertEqual(value2, 20)
        XCTAssertTrue(harness.log.contains("tls=true"), "the start line says TLS is on")
    }

    func testMutualTLSWithAClientCertificate() async throws {
        try await harness.startIngestd([
            "MQTT_HOST": "127.0.0.1", "MQTT_PORT": "\(tlsPort)", "MQTT_TLS_CA_FILE": authority.caFile,
            "MQTT_TLS_CERT_FILE": authority.clientCertFile, "MQTT_TLS_KEY_FILE": authority.clientKeyFile,
        ])
        try await tlsBroker.publish(topic: Fleet.topic("d1"), lines: (0..<5).map { Fleet.telemetry("d1", seq: $0) })
        try await harness.waitUntilReceived(5)
        let value3 = try await harness.stopIngestd()
        XCTAssertEqual(value3, 0)
    }

    func testAWrongCAIsRefusedAndLogged() async throws {
        try await aWrongCAIsRefusedAndLogged(client: "native")
    }

    func testAWrongCAIsRefusedAndLoggedWithLibmosquitto() async throws {
        try await aWrongCAIsRefusedAndLogged(client: "libmosquitto")
    }

    private func aWrongCAIsRefusedAndLogged(client: String) async throws {
        let stranger = try await CertificateAuthority.make(name: "some-other-ca")
        defer { stranger.remove() }
        let process = try IngestdProcess(
            environment: harness.environment(["MQTT_HOST": "localhost", "MQTT_PORT": "\(tlsPort)", "MQTT_TLS_CA_FILE": stranger.caFile,
                                              "MQTT_CLIENT": client]),
            logPath: harness.directory.file("wrong-ca-\(client).log"))
        defer { Task { await process.process.stop() } }
        try await eventually("a logged TLS refusal", timeout: 60) {
            let log = process.process.log()
            return log.contains("certificate verify failed") && (log.contains("mqtt connect failed") || log.contains("mqtt disconnected"))
        }
        let log = process.process.log()
        XCTAssertFalse(log.contains("mqtt subscribed"), "no connection with an unverified broker")
        XCTAssertTrue(log.contains("MQTT_TLS_CA_FILE"), "the log names the setting to check:\n\(log)")
        XCTAssertTrue(process.process.isRunning, "a broker it cannot verify is retried, like a broker that is down")
    }

    func testAPlainTextBrokerIsNotAcceptedWhenTLSIsConfigured() async throws {
        let process = try IngestdProcess(
            environment: harness.environment(["MQTT_PORT": "\(tlsBroker.port)", "MQTT_TLS_CA_FILE": authority.caFile]),
            logPath: harness.directory.file("plain.log"))
        defer { Task { await process.process.stop() } }
        try await eventually("a failed TLS connection", timeout: 60) {
            let log = process.process.log()
            return log.contains("mqtt connect failed") || log.contains("mqtt disconnected")
        }
        XCTAssertFalse(process.process.log().contains("mqtt subscribed"))
    }
}
