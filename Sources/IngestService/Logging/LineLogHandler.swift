import Foundation
import IngestCore
import Logging
#if canImport(Glibc)
import Glibc
#endif

/// A swift-log handler that writes one logfmt or JSON line per event to standard error (prefixed with
/// its syslog priority when standard error is the journal, README "Logs").
///
/// Each line goes out in a single `write(2)`, so lines from different threads never interleave.
public struct LineLogHandler: LogHandler {
    public var logLevel: Logger.Level
    public var metadata: Logger.Metadata = [:]
    public var metadataProvider: Logger.MetadataProvider?
    private let formatter: LogLineFormatter

    public init(label: String, formatter: LogLineFormatter, level: Logger.Level) {
        self.formatter = formatter
        self.logLevel = level
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        var merged = metadata
        if let provided = metadataProvider?.get() { merged.merge(provided) { _, new in new } }
        if let extra = event.metadata { merged.merge(extra) { _, new in new } }
        if let error = event.error, merged["error"] == nil { merged["error"] = "\(error)" }
        var line = formatter.render(level: event.level, message: event.message.description, metadata: merged)
        line += "\n"
        line.withUTF8 { bytes in
            var offset = 0
            while offset < bytes.count {
                let written = write(STDERR_FILENO, bytes.baseAddress! + offset, bytes.count - offset)
                if written <= 0 { if errno == EINTR { continue } else { return } }
                offset += written
            }
        }
    }

    /// Installs the handler for every `Logger` made afterwards; call once, before any logging.
    public static func bootstrap(format: LogFormat, level: LogLevelName) {
        let swiftLevel = Logger.Level(rawValue: level.rawValue) ?? .info
        // Decided once: standard error does not change while ingestd runs.
        let formatter = LogLineFormatter.forStandardError(format: format)
        LoggingSystem.bootstrap { label in LineLogHandler(label: label, formatter: formatter, level: swiftLevel) }
    }
}
