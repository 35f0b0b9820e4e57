import Foundation
import IngestService
import Logging
import ServiceLifecycle
import Synchronization
import TestSupport
import XCTest

final class SystemdNotifierTests: XCTestCase {
    private let logger = Logger(label: "test")

    func testWithoutNotifySocketItDoesNothing() {
        let notifier = SystemdNotifier(environment: [:], subscribed: { true },
                                       progress: { .init(received: 0, intakeDepth: 0, writerAtMemoryBound: false) },
                                       status: { "" }, logger: logger)
        XCTAssertFalse(notifier.isEnabled)
        XCTAssertFalse(notifier.notify("READY=1"))

    }

    func testSendsToPathAndAbstractSockets() throws {
        let directory = try TemporaryDirectory(prefix: "notify")
        defer { directory.remove() }
        for listener in [try NotifySocketListener(address: directory.file("notify.sock")), try NotifySocketListener.abstract()] {
            defer { listener.stop() }
            let notifier = SystemdNotifier(environment: ["NOTIFY_SOCKET": listener.address], subscribed: { true },
                                           progress: { .init(received: 0, intakeDepth: 0, writerAtMemoryBound: false) },
                                           status: { "" }, logger: logger)
            XCTAssertTrue(notifier.notify("STATUS=hello"), listener.address)
            try waitFor("STATUS=hello at \(listener.address)") { listener.sawLine("STATUS=hello") }
        }
    }

    func testWatchdogPeriodHonoursWatchdogPid() {
        let pid = Int(getpid())
        XCTAssertEqual(SystemdNotifier(environment: ["WATCHDOG_USEC": "30000000"], subscribed: { true },
                                       progress: { .init(received: 0, intakeDepth: 0, writerAtMemoryBound: false) },
                                       status: { "" }, logger: logger).watchdog, .seconds(30))
        XCTAssertEqual(SystemdNotifier(environment: ["WATCHDOG_USEC": "30000000", "WATCHDOG_PID": "\(pid)"], subscribed: { true },
                                       progress: { .init(received: 0, intakeDepth: 0, writerAtMemoryBound: false) },
                                       status: { "" }, logger: logger).watchdog, .seconds(30))
        XCTAssertNil(SystemdNotifier(environment: ["WATCHDOG_USEC": "30000000", "WATCHDOG_PID": "\(pid + 1)"], subscribed: { true },
                                     progress: { .init(received: 0, intakeDepth: 0, writerAtMemoryBound: false) },
                                     status: { "" }, logger: logger).watchdog)
        XCTAssertNil(SystemdNotifier(environment: ["WATCHDOG_USEC": "0"], subscribed: { true },
                                     progress: { .init(received: 0, intakeDepth: 0, writerAtMemoryBound: false) },
                                     status: { "" }, logger: logger).watchdog)
    }

    func testProgressRules() {
        let before = SystemdNotifier.Progress(received: 10, intakeDepth: 5, writerAtMemoryBound: false)
        XCTAssertTrue(SystemdNotifier.Progress(received: 11, intakeDepth: 5, writerAtMemoryBound: false).advanced(since: before))
        XCTAssertTrue(SystemdNotifier.Progress(received: 10, intakeDepth: 0, writerAtMemoryBound: false).advanced(since: before), "idle is healthy")
        XCTAssertTrue(SystemdNotifier.Progress(received: 10, intakeDepth: 5, writerAtMemoryBound: true).advanced(since: before), "backpressure is not a hang")
        XCTAssertFalse(SystemdNotifier.Progress(received: 10, intakeDepth: 5, writerAtMemoryBound: false).advanced(since: before), "work waits, nothing moves")
    }

    /// READY=1 only once subscribed, WATCHDOG=1 while advancing and not while stalled, STOPPING=1 on shutdown.
    func testReadyWatchdogAndStopping() async throws {
        let listener = try NotifySocketListener.abstract()
        defer { listener.stop() }
        let subscribed = Atomic<Bool>(false)
        let stalled = Atomic<Bool>(false)
        let received = Atomic<Int>(0)
        let notifier = SystemdNotifier(
            environment: ["NOTIFY_SOCKET": listener.address, "WATCHDOG_USEC": "200000"],
            subscribed: { subscribed.load(ordering: .relaxed) },
            progress: {
                let count = stalled.load(ordering: .relaxed) ? 1 : received.add(1, ordering: .relaxed).newValue
                return .init(received: count, intakeDepth: 3, writerAtMemoryBound: false)
            },
            status: { "received=\(received.load(ordering: .relaxed))" }, logger: logger)
        let group = ServiceGroup(configuration: .init(services: [notifier], logger: logger))
        let run = Task { try await group.run() }

        try await Task.sleep(for: .milliseconds(500))
        XCTAssertFalse(listener.sawLine("READY=1"), "ready before the subscription")
        subscribed.store(true, ordering: .relaxed)
        try await eventually("READY=1") { listener.sawLine("READY=1") }
        try await eventually("WATCHDOG=1") { listener.sawLine("WATCHDOG=1") }
        XCTAssertTrue(listener.received.contains { $0.contains("STATUS=") && $0.contains("received=") })

        stalled.store(true, ordering: .relaxed)
        try await eventually("a stalled status") { listener.received.contains { $0.contains("STATUS=stalled") } }
        let pingsWhenStalled = listener.received.filter { $0.contains("WATCHDOG=1") }.count
        try await eventually("two more stalled ticks") { listener.received.filter { $0.contains("STATUS=stalled") }.count >= 3 }
        XCTAssertEqual(listener.received.filter { $0.contains("WATCHDOG=1") }.count, pingsWhenStalled, "no ping while stalled")

        await group.triggerGracefulShutdown()
        try await run.value
        try await eventually("STOPPING=1") { listener.sawLine("STOPPING=1") }
    }

    private func waitFor(_ what: String, _ condition: () -> Bool) throws {
        let deadline = Date().addingTimeInterval(10)
        while !condition() {
            if Date() > deadline { return XCTFail("timed out waiting for \(what)") }
            usleep(20_000)
        }
    }
}
