import Foundation
@testable import IngestService
import TestSupport
import XCTest

final class InstanceLockTests: XCTestCase {
    private var temporary: TemporaryDirectory!

    override func setUpWithError() throws { temporary = try TemporaryDirectory(prefix: "lock-test") }
    override func tearDown() { temporary.remove() }

    private func lockFileContent() -> String {
        (try? String(contentsOfFile: temporary.path + "/spool/.lock", encoding: .utf8)) ?? ""
    }

    /// flock locks belong to the open file description: a second open+flock in the same process
    /// conflicts, and the error names the holder's PID (ours).
    func testSecondLockInSameProcessFailsWithHolderPID() throws {
        let directory = temporary.path + "/spool"
        let lock = try InstanceLock(directory: directory)
        XCTAssertEqual(lockFileContent(), "\(getpid())\n")
        XCTAssertThrowsError(try InstanceLock(directory: directory)) { error in
            XCTAssertEqual(error as? SpoolError, .alreadyLocked(path: directory + "/.lock", pid: getpid()))
        }
        XCTAssertEqual(lockFileContent(), "\(getpid())\n", "a failed attempt leaves the holder's PID")

        lock.release()
        lock.release()
        let again = try InstanceLock(directory: directory)
        again.release()
    }

    /// A lock whose holder was killed is free: the kernel drops it with the process.
    func testLockOfKilledProcessIsAcquirable() async throws {
        let directory = temporary.path + "/spool"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        // One process holds the lock: the shell opens fd 9, flock(1) locks that open file description,
        // the shell writes its PID and execs sleep, which keeps fd 9 (and the lock) under the same PID.
        let child = try ChildProcess(
            name: "lock holder",
            executable: "/bin/sh",
            arguments: ["-c", #"exec 9>>"$1"; /usr/bin/flock -n 9 || exit 3; echo $$ > "$1"; exec sleep 60"#,
                        "sh", directory + "/.lock"],
            logPath: temporary.path + "/child.log")
        defer { child.signal(SIGKILL) }
        try await eventually("child holds the lock", timeout: 30) {
            XCTAssertNil(child.exitCode, "child exited early: \(child.log())")
            return lockFileContent() == "\(child.pid)\n"
        }

        XCTAssertThrowsError(try InstanceLock(directory: directory)) { error in
            XCTAssertEqual(error as? SpoolError, .alreadyLocked(path: directory + "/.lock", pid: child.pid))
        }

        child.signal(SIGKILL)
        try await child.waitForExit(timeout: 30)
        var lock: InstanceLock?
        try await eventually("lock of the killed child is free", timeout: 30) {
            lock = try? InstanceLock(directory: directory)
            return lock != nil
        }
        XCTAssertEqual(lockFileContent(), "\(getpid())\n")
        lock?.release()
    }
}
