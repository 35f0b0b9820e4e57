import IngestCore
import XCTest

final class DeviceAuthorizerTests: XCTestCase {
    let token = "s3cret-token"
    lazy var hash = TokenHasher.sha256Hex(token)

    private func message(token: String?, site: String = "s1") -> ValidatedMessage {
        ValidatedMessage(
            address: TopicAddress(tenantID: "t1", deviceID: "d1", messageType: "telemetry"),
            envelope: Envelope(siteID: site, seq: 1, provisionToken: token),
            siteID: site
        )
    }

    private func record(status: String = "ACTIVE", site: String = "s1", hash: String?) -> DeviceRecord {
        DeviceRecord(tenantID: "t1", deviceID: "d1", siteID: site, status: status, provisionTokenHash: hash)
    }

    func testUnregistered() {
        assertRejects(.unregisteredDevice) { () throws(RejectReason) in
            try DeviceAuthorizer(requireToken: false).authorize(message(token: token), record: nil, verifiedToken: nil)
        }
    }

    func testRevoked() {
        for status in ["REVOKED", "active", "", "DISABLED"] {
            assertRejects(.deviceRevoked, status) { () throws(RejectReason) in
                try DeviceAuthorizer(requireToken: false).authorize(message(token: token), record: record(status: status, hash: hash), verifiedToken: nil)
            }
        }
    }

    /// A mapped device (README, "Mapping other devices"): registered and ACTIVE is all that is asked;
    /// its site and token are not looked at.
    func testAMappedDeviceNeedsARecordThatIsActive() throws {
        let authorizer = DeviceAuthorizer(requireToken: true)
        assertRejects(.unregisteredDevice) { () throws(RejectReason) in try authorizer.authorizeDevice(record: nil) }
        for status in ["REVOKED", "active", ""] {
            assertRejects(.deviceRevoked, status) { () throws(RejectReason) in
                try authorizer.authorizeDevice(record: record(status: status, hash: hash))
            }
        }
        try authorizer.authorizeDevice(record: record(site: "elsewhere", hash: nil))
    }

    func testSiteMismatch() {
        assertRejects(.siteMismatchRegistryVsPayload) { () throws(RejectReason) in
            try DeviceAuthorizer(requireToken: true).authorize(message(token: token, site: "s2"), record: record(hash: hash), verifiedToken: nil)
        }
    }

    func testTokenNotRequired() throws {
        let result = try DeviceAuthorizer(requireToken: false).authorize(message(token: nil), record: record(hash: nil), verifiedToken: nil)
        XCTAssertNil(result)
        XCTAssertNil(try DeviceAuthorizer(requireToken: false).authorize(message(token: "wrong"), record: record(hash: hash), verifiedToken: nil))
    }

    func testTokenNotSetInRegistry() {
        for stored in [nil, ""] as [String?] {
            assertRejects(.tokenNotSetInRegistry) { () throws(RejectReason) in
                try DeviceAuthorizer(requireToken: true).authorize(message(token: token), record: record(hash: stored), verifiedToken: nil)
            }
        }
    }

    func testTokenMissing() {
        for sent in [nil, ""] as [String?] {
            assertRejects(.tokenMissing) { () throws(RejectReason) in
                try DeviceAuthorizer(requireToken: true).authorize(message(token: sent), record: record(hash: hash), verifiedToken: nil)
            }
        }
    }

    func testTokenInvalid() {
        assertRejects(.tokenInvalid) { () throws(RejectReason) in
            try DeviceAuthorizer(requireToken: true).authorize(message(token: "nope"), record: record(hash: hash), verifiedToken: nil)
        }
        assertRejects(.tokenInvalid) { () throws(RejectReason) in
            try DeviceAuthorizer(requireToken: true).authorize(message(token: token), record: record(hash: "not-a-hash"), verifiedToken: nil)
        }
    }

    func testValidTokenIsReturned() throws {
        XCTAssertEqual(try DeviceAuthorizer(requireToken: true).authorize(message(token: token), record: record(hash: hash), verifiedToken: nil), token)
    }

    func testStoredHashIsComparedCaseInsensitively() throws {
        XCTAssertEqual(try DeviceAuthorizer(requireToken: true).authorize(message(token: token), record: record(hash: hash.uppercased()), verifiedToken: nil), token)
    }

    func testVerifiedTokenShortcutSkipsHashing() throws {
        // With a hash that no token matches, only the shortcut can accept: proof that it skipped SHA-256.
        let bogus = String(repeating: "0", count: 64)
        XCTAssertEqual(try DeviceAuthorizer(requireToken: true).authorize(message(token: token), record: record(hash: bogus), verifiedToken: token), token)
    }

    func testVerifiedTokenThatDiffersFallsBackToHashing() throws {
        let authorizer = DeviceAuthorizer(requireToken: true)
        XCTAssertEqual(try authorizer.authorize(message(token: token), record: record(hash: hash), verifiedToken: "older-token"), token)
        assertRejects(.tokenInvalid) { () throws(RejectReason) in
            try authorizer.authorize(message(token: "guess"), record: record(hash: hash), verifiedToken: token)
        }
    }

    func testShortcutStillRequiresEarlierChecks() {
        assertRejects(.deviceRevoked) { () throws(RejectReason) in
            try DeviceAuthorizer(requireToken: true).authorize(message(token: token), record: record(status: "REVOKED", hash: hash), verifiedToken: token)
        }
        assertRejects(.tokenNotSetInRegistry) { () throws(RejectReason) in
            try DeviceAuthorizer(requireToken: true).authorize(message(token: token), record: record(hash: nil), verifiedToken: token)
        }
    }
}
