#if canImport(Glibc)
import Glibc
#endif
import Foundation
import IngestCore
import IngestService
import Logging

/// One `ingestd spool replay`: every segment, oldest first, each tried a few times with backoff; one
/// InfluxDB will not take stays in the spool and the run goes on with the next (README "Spool
/// tools"). After `giveUpAfter` segments in a row were kept, InfluxDB is taken to be unreachable and
/// the run stops rather than wait out every segment's retries.
struct SpoolReplayRun {
    let replayer: SpoolReplayer
    let store: DurableStore
    let backoff: RetryBackoff
    let logger: Logger
    var attemptsPerSegment = 3
    var giveUpAfter = 5
    /// Between two progress lines when standard error is not a terminal.
    var lineEvery: Duration = .seconds(5)

    func run() async throws -> ReplayProgress {
        let ids = await store.spool.segmentIDs
        var progress = ReplayProgress(totalSegments: ids.count)
        let terminal = isatty(STDERR_FILENO) == 1
        let clock = ContinuousClock()
        var lastLine = clock.now
        var keptInARow = 0
        show(progress, terminal: terminal)
        for id in ids {
            var outcome = await replayer.replay(id)
            var attempt = 1
            while case .kept = outcome, attempt < attemptsPerSegment {
                try await Task.sleep(for: .milliseconds(backoff.delayMilliseconds(attempt: attempt, retryAfterSeconds: nil)))
                attempt += 1
                outcome = await replayer.replay(id)
            }
            switch outcome {
            case .sent(let lines):
                progress.sent(lines: lines)
                keptInARow = 0
            case .kept(let reason):
                progress.kept()
                keptInARow += 1
                logger.warning("spool segment not sent; it stays in the spool", metadata: [
                    "segment": "\(id)", "attempts": "\(attempt)", "error": "\(reason)",
                ])
            case .missing:
                progress.missing()
            }
            if terminal {
                show(progress, terminal: true)
            } else if clock.now - lastLine >= lineEvery {
                show(progress, terminal: false)
                lastLine = clock.now
            }
            if keptInARow >= giveUpAfter {
                logger.error("InfluxDB took none of the last segments; stopping the replay", metadata: [
                    "segments_in_a_row": "\(keptInARow)", "segments_not_tried": "\(progress.totalSegments - progress.doneSegments)",
                ])
                break
            }
        }
        if terminal {
            FileHandle.standardError.write(Data("\n".utf8))
        } else {
            show(progress, terminal: false)
        }
        return progress
    }

    /// The bar, redrawn in place on a terminal; a log line otherwise.
    private func show(_ progress: ReplayProgress, terminal: Bool) {
        if terminal {
            FileHandle.standardError.write(Data("\r\u{1B}[K\(progress.bar())".utf8))
        } else {
            logger.info("spool replay progress", metadata: [
                "segments_done": "\(progress.doneSegments)", "segments": "\(progress.totalSegments)",
                "lines": "\(progress.lines)", "kept": "\(progress.keptSegments)",
            ])
        }
    }
}
