import Foundation
import IngestCore
import Logging

/// Renders one log event as one line of logfmt or JSON.
///
/// Metadata keys are written in sorted order so that a line's shape never changes between runs:
/// log scrapers and people grepping for `reason=` both rely on it. `ts`, `level` and `msg` come first.
public struct LogLineFormatter: Sendable {
    public let format: LogFormat
    /// Starts each line with its syslog priority (`<4>` for a warning) for journald (README "Logs").
    public let syslogPrefix: Bool

    public init(format: LogFormat, syslogPrefix: Bool = false) {
        self.format = format
        self.syslogPrefix = syslogPrefix
    }

    /// A formatter for lines written to this process's standard error: with the syslog prefix when
    /// standard error is the journal's stream (`JOURNAL_STREAM`).
    public static func forStandardError(format: LogFormat) -> LogLineFormatter {
        LogLineFormatter(format: format, syslogPrefix: JournalStream.isJournal(
            fileDescriptor: STDERR_FILENO, environment: ProcessInfo.processInfo.environment))
    }

    public func render(level: Logger.Level, message: String, metadata: Logger.Metadata, date: Date = Date()) -> String {
        let timestamp = Self.timestamp(date)
        let fields = metadata.sorted { $0.key < $1.key }
        let prefix = syslogPrefix ? SyslogPriority.prefix(for: level) : ""
        switch format {
        case .logfmt:
            var line = "\(prefix)ts=\(timestamp) level=\(level.rawValue) msg=\(Self.logfmtValue(message))"
            for (key, value) in fields {
                line += " \(Self.logfmtKey(key))=\(Self.logfmtValue(value.description))"
            }
            return line
        case .json:
            var line = "\(prefix){\"ts\":\(Self.jsonString(timestamp)),\"level\":\(Self.jsonString(level.rawValue)),\"msg\":\(Self.jsonString(message))"
            for (key, value) in fields where !["ts", "level", "msg"].contains(key) {
                line += ",\(Self.jsonString(key)):\(Self.jsonValue(value))"
            }
            return line + "}"
        }
    }

    /// RFC 3339 in UTC with milliseconds, built by hand: DateFormatter is slow and not thread-safe.
    static func timestamp(_ date: Date) -> String {
        let millisecondsSinceEpoch = Int64((date.timeIntervalSince1970 * 1000).rounded(.down))
        var seconds = millisecondsSinceEpoch.floorDivided(by: 1000)
        let milliseconds = millisecondsSinceEpoch - seconds * 1000
        let days = seconds.floorDivided(by: 86400)
        seconds -= days * 86400
        let (year, month, day) = Self.civilDate(daysSinceEpoch: days)
        func pad(_ value: Int64, _ width: Int) -> String {
            let text = String(value)
            return String(repeating: "0", count: max(0, width - text.count)) + text
        }
        return "\(pad(year, 4))-\(pad(month, 2))-\(pad(day, 2))T\(pad(seconds / 3600, 2)):\(pad(seconds % 3600 / 60, 2)):\(pad(seconds % 60, 2)).\(pad(milliseconds, 3))Z"
    }

    /// Howard Hinnant's civil-from-days algorithm.
    static func civilDate(daysSinceEpoch: Int64) -> (Int64, Int64, Int64) {
        let z = daysSinceEpoch + 719_468
        let era = z.floorDivided(by: 146_097)
        let dayOfEra = z - era * 146_097
        let yearOfEra = (dayOfEra - dayOfEra / 1460 + dayOfEra / 36524 - dayOfEra / 146_096) / 365
        let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
        let monthPrime = (5 * dayOfYear + 2) / 153
        let day = dayOfYear - (153 * monthPrime + 2) / 5 + 1
        let month = monthPrime < 10 ? monthPrime + 3 : monthPrime - 9
        return (yearOfEra + era * 400 + (month <= 2 ? 1 : 0), month, day)
    }

    static func logfmtKey(_ key: String) -> String {
        String(key.map { $0 == " " || $0 == "=" || $0 == "\"" ? "_" : $0 })
    }

    /// Bare when safe, else double-quoted with `"`, `\` and control characters escaped.
    static func logfmtValue(_ value: String) -> String {
        let needsQuotes = value.isEmpty || value.unicodeScalars.contains { scalar in
            scalar == " " || scalar == "=" || scalar == "\"" || scalar == "\\" || scalar.value < 0x20 || scalar.value == 0x7F
        }
        guard needsQuotes else { return value }
        return "\"" + escaped(value) + "\""
    }

    static func jsonString(_ value: String) -> String {
        "\"" + escaped(value) + "\""
    }

    /// Integers stay numbers in JSON so log pipelines can sum them without parsing strings.
    static func jsonValue(_ value: Logger.MetadataValue) -> String {
        switch value {
        case let .string(text):
            return jsonString(text)
        case let .stringConvertible(convertible):
            if let number = convertible as? any BinaryInteger { return String(describing: number) }
            return jsonString(convertible.description)
        case let .array(items):
            return "[" + items.map(jsonValue).joined(separator: ",") + "]"
        case let .dictionary(entries):
            return "{" + entries.sorted { $0.key < $1.key }.map { "\(jsonString($0.key)):\(jsonValue($0.value))" }.joined(separator: ",") + "}"
        }
    }

    private static func escaped(_ value: String) -> String {
        var out = ""
        out.reserveCapacity(value.utf8.count + 2)
        for scalar in value.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            default:
                if scalar.value < 0x20 || scalar.value == 0x7F {
                    let hex = String(scalar.value, radix: 16)
                    out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
                } else {
                    out.unicodeScalars.append(scalar)
                }
            }
        }
        return out
    }
}

extension Int64 {
    fileprivate func floorDivided(by divisor: Int64) -> Int64 {
        let quotient = self / divisor
        return (self % divisor != 0 && (self < 0) != (divisor < 0)) ? quotient - 1 : quotient
    }
}
