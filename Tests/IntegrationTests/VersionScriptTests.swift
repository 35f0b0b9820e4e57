import Foundation
import TestSupport
import XCTest

/// README "Version": scripts/version.sh, which the build plugin runs, in each of its cases.
final class VersionScriptTests: XCTestCase {
    private static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    private func version(_ arguments: [String], script: String? = nil, environment: [String: String] = [:]) async throws -> (code: Int32, output: String) {
        let directory = try TemporaryDirectory(prefix: "version-test")
        defer { directory.remove() }
        var env = environment
        env["PATH"] = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"
        let child = try ChildProcess(
            name: "version.sh", executable: "/bin/sh",
            arguments: [script ?? Self.root.appendingPathComponent("scripts/version.sh").path] + arguments,
            environment: env, logPath: directory.file("out.log"))
        let code = try await child.waitForExit(timeout: 60)
        return (code, child.log().trimmingCharacters(in: .whitespacesAndNewlines))
    }

    func testAPinnedVersionBecomesADebianVersionThatSortsRight() async throws {
        let cases = [
            ("0.2.0", "0.2.0"),
            ("0.2.0-3-gabc1234", "0.2.0+3.gabc1234"),
            ("0.2.0-3-gabc1234-dirty", "0.2.0+3.gabc1234.dirty"),
            ("0.1.0-dev.104+g1234abc", "0.1.0~dev.104+g1234abc"),
        ]
        for (pinned, debian) in cases {
            let plain = try await version([], environment: ["INGESTD_VERSION": pinned])
            XCTAssertEqual(plain.output, pinned)
            let result = try await version(["--debian"], environment: ["INGESTD_VERSION": pinned])
            XCTAssertEqual(result.code, 0)
            XCTAssertEqual(result.output, debian, pinned)
        }
        // dpkg agrees on the order: a pre-release before the release, a later commit after it.
        let order = ["0.1.0~dev.104+g1234abc", "0.1.0", "0.1.0+3.gabc1234"]
        for (lower, higher) in zip(order, order.dropFirst()) {
            let directory = try TemporaryDirectory(prefix: "dpkg-order")
            defer { directory.remove() }
            let compare = try ChildProcess(name: "dpkg", executable: "/usr/bin/dpkg",
                                           arguments: ["--compare-versions", lower, "lt", higher], logPath: directory.file("out.log"))
            let code = try await compare.waitForExit(timeout: 30)
            XCTAssertEqual(code, 0, "\(lower) < \(higher)")
        }
    }

    func testInThisCheckoutTheVersionComesFromGit() async throws {
        guard FileManager.default.fileExists(atPath: Self.root.appendingPathComponent(".git").path) else {
            throw XCTSkip("not a git checkout")
        }
        let result = try await version([])
        XCTAssertEqual(result.code, 0)
        XCTAssertTrue(result.output.range(of: #"^[0-9]+\.[0-9]+\.[0-9]+(-dev\.[0-9]+\+g[0-9a-f]+|-[0-9]+-g[0-9a-f]+)?(-dirty)?$"#,
                                          options: .regularExpression) != nil, result.output)
    }

    func testWithoutGitItFallsBackToVERSIONAndSaysSo() async throws {
        let copy = try TemporaryDirectory(prefix: "version-tarball")
        defer { copy.remove() }
        try FileManager.default.createDirectory(atPath: copy.file("scripts"), withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: Self.root.appendingPathComponent("scripts/version.sh").path, toPath: copy.file("scripts/version.sh"))
        try "7.8.9\n".write(toFile: copy.file("VERSION"), atomically: true, encoding: .utf8)
        let result = try await version([], script: copy.file("scripts/version.sh"))
        XCTAssertEqual(result.code, 0)
        XCTAssertTrue(result.output.hasSuffix("7.8.9+unknown"), result.output)
        XCTAssertTrue(result.output.contains("no git metadata"), "a warning on stderr: \(result.output)")
    }
}
