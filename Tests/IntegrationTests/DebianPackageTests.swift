import Foundation
import TestSupport
import XCTest

/// README "Install": the Debian package installs into a fresh Debian root (debootstrap, minbase) and
/// runs there, which proves every runtime library it needs is declared in `Depends`.
/// scripts/test-deb.sh does the work; it exits 77 when it cannot run here (not root, no debootstrap).
final class DebianPackageTests: XCTestCase {
    private static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    func testThePackageInstallsAndRunsInAFreshDebianRoot() async throws {
        // scripts/test.sh links the test build's ingestd with --static-swift-stdlib (a relink, not a
        // second build) so no release build is needed here; INGESTD_STATIC_BINARY names another one.
        let environment = ProcessInfo.processInfo.environment
        guard let binary = environment["INGESTD_STATIC_BINARY"] ?? IngestdProcess.binaryPath() else {
            return XCTFail("no ingestd binary: run scripts/test.sh, or set INGESTD_STATIC_BINARY")
        }
        let directory = try TemporaryDirectory(prefix: "deb-test")
        defer { directory.remove() }
        var childEnvironment = ["PATH": environment["PATH"] ?? "/usr/sbin:/usr/bin:/sbin:/bin"]
        for name in ["INGESTD_DEBOOTSTRAP_CACHE", "INGESTD_DEBOOTSTRAP_MIRROR", "INGESTD_DEBOOTSTRAP_SUITE", "TMPDIR"] {
            childEnvironment[name] = environment[name]
        }
        let child = try ChildProcess(
            name: "test-deb", executable: Self.root.appendingPathComponent("scripts/test-deb.sh").path,
            arguments: ["--binary", binary], environment: childEnvironment, logPath: directory.file("out.log"))
        // The first run makes the debootstrap root (minutes); later runs unpack the cached one.
        let code = try await child.waitForExit(timeout: 1200)
        let output = child.log()
        if code == 77 { throw XCTSkip(output.split(separator: "\n").last.map(String.init) ?? "test-deb.sh skipped") }
        XCTAssertEqual(code, 0, output)
        XCTAssertTrue(output.contains("configuration ok"), output)
        XCTAssertTrue(output.contains("installs and runs in a fresh"), output)
        print(output.split(separator: "\n").suffix(1).joined())
    }
}
