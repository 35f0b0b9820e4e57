import IngestCore
import Logging
import ServiceLifecycle

/// Sends spooled batches to InfluxDB, oldest first, and deletes each segment only after InfluxDB has
/// accepted it (or its refused lines are in the dead-letter folder). Runs beside live traffic, one
/// segment at a time, and only while InfluxDB takes writes: after a failure it waits with backoff.
///
/// At start this is also how an earlier run's segments reach InfluxDB.
public final class SpoolReplayer: Service {
    private let store: DurableStore
    private let client: any InfluxWriting
    private let backoff: RetryBackoff
    private let idlePoll: Duration
    private let logger: Logger

    public init(store: DurableStore, client: any InfluxWriting, backoff: RetryBackoff,
                idlePoll: Duration = .milliseconds(500), logger: Logger) {
        self.store = store
        self.client = client
        self.backoff = backoff
        self.idlePoll = idlePoll
        self.logger = logger
    }

    public func run() async {
        await cancelWhenGracefulShutdown {
            await self.replayUntilCancelled()
        }
    }

    /// Replays until the spool is empty; returns false when a write failed (for `ingestd spool replay`).
    public func replayAll() async -> Bool {
        while true {
            switch await replayOldest() {
            case .empty: return true
            case .replayed: continue
            case .failed: return false
            }
        }
    }

    private func replayUntilCancelled() async {
        var failures = 0
        var announced = false
        while !Task.isCancelled {
            switch await replayOldest() {
            case .empty:
                if announced {
                    logger.info("spool replayed: empty again")
                    announced = false
                }
                failures = 0
                try? await Task.sleep(for: idlePoll)
            case .replayed:
                if !announced {
                    logger.info("replaying the spool", metadata: ["segments": "\(store.metrics.segments.load(ordering: .relaxed))"])
                    announced = true
                }
                failures = 0
            case .failed(let failure):
                failures += 1
                let delay = backoff.delayMilliseconds(attempt: failures, retryAfterSeconds: failure?.retryAfterSeconds)
                logger.debug("spool replay waits for InfluxDB", metadata: ["delay_ms": "\(delay)", "error": "\(failure?.shortDescription ?? "-")"])
                try? await Task.sleep(for: .milliseconds(delay))
            }
        }
    }

    enum Step {
        case empty
        case replayed
        case failed(InfluxWriteFailure?)
    }

    func replayOldest() async -> Step {
        let next: (id: SegmentID, segment: SpoolSegment)?
        do {
            next = try await store.spool.oldest()
        } catch {
            logger.error("cannot read the spool", metadata: ["error": "\(error)"])
            return .failed(nil)
        }
        guard let (id, segment) = next else {
            await store.refreshMetrics()
            return .empty
        }
        return await send(id, segment)
    }

    /// What became of one segment in ``replay(_:)``.
    public enum SegmentOutcome: Sendable, Equatable {
        /// Written (`lines` of them; refused lines, if any, are in the dead-letter folder) and deleted.
        case sent(lines: Int)
        /// Still in the spool: InfluxDB did not take it (the reason), try again later.
        case kept(reason: String)
        /// Not in the spool (any more), or unreadable and moved to `corrupt/`.
        case missing
    }

    /// Sends one segment by id, for `ingestd spool replay`, which goes on past a segment it cannot send.
    public func replay(_ id: SegmentID) async -> SegmentOutcome {
        let segment: SpoolSegment?
        do {
            segment = try await store.spool.read(id)
        } catch {
            return .kept(reason: "\(error)")
        }
        guard let segment else { return .missing }
        let before = store.metrics.replayedLines.load(ordering: .relaxed)
        switch await send(id, segment) {
        case .failed(let failure): return .kept(reason: failure?.shortDescription ?? "cannot write the dead-letter file")
        case .empty, .replayed: return .sent(lines: store.metrics.replayedLines.load(ordering: .relaxed) &- before)
        }
    }

    private func send(_ id: SegmentID, _ segment: SpoolSegment) async -> Step {
        switch await client.write(database: segment.database, body: segment.body, lineCount: segment.lineCount) {
        case .written:
            await finish(id, lines: segment.lineCount)
            return .replayed
        case .retryable(let failure):
            return .failed(failure)
        case .rejected(let failure):
            let outcome = await RefusedLineIsolator(client: client)
                .isolate(database: segment.database, body: segment.body, failure: failure)
            switch outcome {
            case .interrupted(let failure):
                return .failed(failure)
            case let .resolved(refused, written):
                if let first = refused.first {
                    guard await store.deadLetter(database: segment.database, status: first.status, error: first.error,
                                                 lines: refused.map(\.line))
                    else { return .failed(failure) }
                }
                await finish(id, lines: written)
                return .replayed
            }
        }
    }

    private func finish(_ id: SegmentID, lines: Int) async {
        await store.spool.remove(id)
        store.metrics.replayedLines.wrappingAdd(lines, ordering: .relaxed)
        await store.refreshMetrics()
    }
}
