import Logging
import ServiceLifecycle

/// Runs the crash journal of DURABILITY=journal: first hands what an earlier run left unacknowledged
/// to the writer, then syncs the journal every JOURNAL_SYNC_MS (group commit, on the journal's own
/// thread), and once more after the writer has drained, so the last acknowledgements reach the disk.
/// Listed first among the services, it is the last to stop.
public final class JournalService: Service {
    private let journal: CrashJournal
    private let sink: any LineSink
    private let interval: Duration
    private let logger: Logger
    /// Hears each completed sync: the MQTT acknowledgements of the lines it covers may leave.
    private let acknowledgements: AcknowledgementRelay?

    public init(journal: CrashJournal, sink: any LineSink, syncEvery interval: Duration,
                acknowledgements: AcknowledgementRelay? = nil, logger: Logger) {
        self.journal = journal
        self.acknowledgements = acknowledgements
        self.sink = sink
        self.interval = interval
        self.logger = logger
    }

    public func run() async {
        let recovered = journal.recovered
        if !recovered.isEmpty {
            let lines = recovered.reduce(0) { $0 + $1.lineCount }
            logger.warning("crash journal: writing what the previous run had not delivered", metadata: [
                "lines": "\(lines)", "batches": "\(recovered.count)",
            ])
            for batch in recovered {
                await sink.append(database: batch.database, lines: batch.lines, lineCount: batch.lineCount,
                                  journalSequences: batch.sequences)
            }
        }
        let acknowledgements = self.acknowledgements
        await cancelWhenGracefulShutdown {
            await self.journal.syncPeriodically(every: self.interval) { acknowledgements?.acknowledge(upTo: $0) }
        }
        do {
            let mark = try await journal.syncOnIOThread()
            acknowledgements?.acknowledge(upTo: mark)
        } catch {
            logger.error("crash journal: last sync failed", metadata: ["error": "\(error)"])
        }
    }
}
