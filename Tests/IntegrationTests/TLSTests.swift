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

    /// `MQTT_TLS=1` without a CA file checks the broker against the system's trust store. OpenSSL's
    /// default verify paths honour `SSL_CERT_FILE`, which stands in for the system store here (the
    /// test CA is not in the real one, and the suite must not change the machine).
    func testSystemTrustStoreWithoutACAFile() async throws {
        try await systemTrustStore(client: "native")
    }

    func testSystemTrustStoreWithoutACAFileWithLibmosquitto() async throws {
        try await systemTrustStore(client: "libmosquitto")
    }

    private func systemTrustStore(client: String) async throws {
        try await harness.startIngestd([
            "MQTT_HOST": "localhost", "MQTT_PORT": "\(tlsPort)", "MQTT_TLS": "1", "MQTT_CLIENT": client,
            "SSL_CERT_FILE": authority.caFile,
        ])
        try await tlsBroker.publish(topic: Fleet.topic("d1"), lines: (0..<3).map { Fleet.telemetry("d1", seq: $0) })
        try await harness.waitUntilReceived(3)
        let status = try await harness.stopIngestd()
        XCTAssertEqual(status, 0)
        XCTAssertTrue(harness.log.contains("tls=true"), "the start line says TLS is on")
    }

    /// Without `SSL_CERT_FILE` the real system store does not know the test CA: refused, not plain text.
    func testSystemTrustStoreRefusesAnUnknownCA() async throws {
        let process = try IngestdProcess(
            environment: harness.environment(["MQTT_HOST": "localhost", "MQTT_PORT": "\(tlsPort)", "MQTT_TLS": "1"]),
            logPath: harness.directory.file("system-store.log"))
        defer { Task { await process.process.stop() } }
        try await eventually("a logged TLS refusal", timeout: 60) {
            process.process.log().contains("certificate verify failed")
        }
        XCTAssertFalse(process.process.log().contains("mqtt subscribed"))
    }

    /// Both clients name the broker in the TLS handshake (SNI), which brokers behind a shared TLS
    /// front end need. A Python TLS server records the name it was asked for.
    func testServerNameIndicationIsSent() async throws {
        for client in ["native", "libmosquitto"] {
            let port = FreePort.next()
            let script = """
            import socket, ssl
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain("\(authority.serverCertFile)", "\(authority.serverKeyFile)")
            context.sni_callback = lambda sock, name, ctx: print("sni=%s" % name, flush=True)
            server = socket.socket()
            server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            server.bind(("127.0.0.1", \(port)))
            server.listen()
            print("listening", flush=True)
            while True:
                connection, _ = server.accept()
                try:
                    context.wrap_socket(connection, server_side=True).close()
                except Exception as error:
                    print("error %s" % error, flush=True)
            """
            let recorder = try ChildProcess(name: "sni-recorder", executable: "/usr/bin/python3", arguments: ["-c", script],
                                            logPath: harness.directory.file("sni-\(client).log"))
            try await eventually("the SNI recorder listens") { recorder.log().contains("listening") }
            let process = try IngestdProcess(
                environment: harness.environment(["MQTT_HOST": "localhost", "MQTT_PORT": "\(port)", "MQTT_TLS": "1",
                                                  "SSL_CERT_FILE": authority.caFile, "MQTT_CLIENT": client]),
                logPath: harness.directory.file("sni-ingestd-\(client).log"))
            try await eventually("the \(client) client's handshake", timeout: 60) { recorder.log().contains("sni=") }
            await process.process.stop()
            await recorder.stop()
            XCTAssertTrue(recorder.log().contains("sni=localhost"), "\(client): \(recorder.log())")
        }
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
