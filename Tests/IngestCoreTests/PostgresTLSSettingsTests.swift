import XCTest
@testable import IngestCore

/// PG_SSLMODE's verifying modes and PG_SSLROOTCERT (README "Registry modes").
final class PostgresTLSSettingsTests: XCTestCase {
    private func load(_ environment: [String: String], missing: Set<String> = []) throws(SettingsError) -> Settings {
        try Settings(environment: environment, hostname: "h", fileProblem: { missing.contains($0) ? "no such file" : nil })
    }

    func testVerifyModesTakeARootCertificateOrTheSystemsCAs() throws {
        let full = try load(["PG_SSLMODE": "verify-full", "PG_SSLROOTCERT": "/etc/ingestd/pg-ca.pem"])
        XCTAssertEqual(full.pgSSLMode, .verifyFull)
        XCTAssertEqual(full.pgSSLRootCert, "/etc/ingestd/pg-ca.pem")
        XCTAssertEqual(try load(["PG_SSLMODE": "VERIFY-CA"]).pgSSLMode, .verifyCA)
        XCTAssertNil(try load(["PG_SSLMODE": "verify-ca"]).pgSSLRootCert, "the system's CAs")
        XCTAssertEqual(try load([:]).pgSSLMode, .prefer)
    }

    func testARootCertificateWithoutVerificationOrUnreadableIsAnError() {
        for mode in ["disable", "prefer", "require"] {
            XCTAssertThrowsError(try load(["PG_SSLMODE": mode, "PG_SSLROOTCERT": "/ca.pem"])) { error in
                XCTAssertEqual((error as? SettingsError)?.variable, "PG_SSLROOTCERT,PG_SSLMODE")
            }
        }
        XCTAssertThrowsError(try load(["PG_SSLMODE": "verify-full", "PG_SSLROOTCERT": "/gone.pem"], missing: ["/gone.pem"])) { error in
            XCTAssertEqual(error as? SettingsError, .unreadableFile(name: "PG_SSLROOTCERT", path: "/gone.pem", reason: "no such file"))
        }
        XCTAssertThrowsError(try load(["PG_SSLMODE": "verify"])) { error in
            XCTAssertEqual((error as? SettingsError)?.description,
                           "invalid setting PG_SSLMODE=\"verify\": expected one of disable, prefer, require, verify-ca, verify-full")
        }
    }
}
