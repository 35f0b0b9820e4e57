import Logging
import Synchronization

/// Collects log records so tests can check that a component said what happened (msg and metadata).
final class SpoolTestLog: Sendable {
    struct Record: Sendable {
        let level: Logger.Level
        let message: String
        let metadata: [String: String]
    }

    private let records = Mutex<[Record]>([])

    var all: [Record] { records.withLock { $0 } }

    func records(containing text: String) -> [Record] { all.filter { $0.message.contains(text) } }

    var logger: Logger {
        Logger(label: "test") { _ in Handler(log: self) }
    }

    fileprivate func add(_ record: Record) { records.withLock { $0.append(record) } }

    private struct Handler: LogHandler {
        let log: SpoolTestLog
        var metadata: Logger.Metadata = [:]
        var logLevel: Logger.Level = .trace

        subscript(metadataKey key: String) -> Logger.Metadata.Value? {
            get { metadata[key] }
            set { metadata[key] = newValue }
        }

        func log(event: LogEvent) {
            var fields: [String: String] = [:]
            for (key, value) in metadata.merging(event.metadata ?? [:], uniquingKeysWith: { $1 }) {
                fields[key] = "\(value)"
            }
            log.add(Record(level: event.level, message: "\(event.message)", metadata: fields))
        }
    }
}
