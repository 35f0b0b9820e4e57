#if canImport(Glibc)
import Glibc
#endif
import IngestCore

/// Load tools for `bench/run.sh`; not part of ingestd.
///
///     ingestd-bench publish --port P --count N [--devices 1000] [--rate 0] [--qos 1] [--window 2000]
///     ingestd-bench sink --port P [--expect N] [--latency] [--delay-ms MS] [--upstream PORT]
///     ingestd-bench hotpath [--count N] [--devices D]
///     ingestd-bench subscribe --port P --count N --client-id ID [--topic F] [--receive-maximum 1000]
///
/// `publish` is a libmosquitto publisher (MQTT 3.1.1, no network thread: it writes from its own loop,
/// so it is not limited by a thread hand-off per message like `mosquitto_pub -l`). Each message is
/// the device message of README "Device messages" with 5 metrics, stamped with the send time (`ts`, nanosecond ISO 8601).
///
/// `sink` speaks enough of the InfluxDB write API (v1 `/write`, v2 `/api/v2/write`, v3
/// `/api/v3/write_lp`) to answer 204 at once, counting lines; with `--upstream` it forwards every
/// request to a real InfluxDB on that loopback port instead and counts the lines it acknowledged.
/// When `--expect` lines are acknowledged it prints one JSON line with the counts, the monotonic
/// time of that acknowledgement and (with `--latency`) publish-to-acknowledgement percentiles
/// taken from each line's timestamp.
///
/// `subscribe` is the broker's ceiling: a subscriber that only acknowledges (`CountingSubscriber`).
@main
struct IngestdBench {
    static func main() {
        var arguments = Array(CommandLine.arguments.dropFirst())
        guard let command = arguments.first else { usage() }
        arguments.removeFirst()
        let options = Options(arguments)
        switch command {
        case "publish": Publisher(options: options).run()
        case "sink": Sink(options: options).run()
        case "hotpath": HotPath(options: options).run()
        case "subscribe": CountingSubscriber(options: options).run()
        default: usage()
        }
    }

    static func usage() -> Never {
        writeError("usage: ingestd-bench publish --port P --count N [--devices D] [--rate R] [--qos Q] [--window W] [--tenant T] [--tenants K]\n")
        writeError("       ingestd-bench sink --port P [--expect N] [--latency] [--delay-ms MS] [--upstream PORT] [--record FILE]\n")
        writeError("       ingestd-bench hotpath [--count N] [--devices D]\n")
        writeError("       ingestd-bench subscribe --port P --count N --client-id ID [--topic F] [--receive-maximum R]\n")
        exit(64)
    }
}

/// `--name value` pairs and bare `--flag`s.
struct Options {
    private var values: [String: String] = [:]

    init(_ arguments: [String]) {
        var index = 0
        while index < arguments.count {
            let name = arguments[index]
            guard name.hasPrefix("--") else { IngestdBench.usage() }
            if index + 1 < arguments.count, !arguments[index + 1].hasPrefix("--") {
                values[String(name.dropFirst(2))] = arguments[index + 1]
                index += 2
            } else {
                values[String(name.dropFirst(2))] = ""
                index += 1
            }
        }
    }

    func string(_ name: String, _ fallback: String) -> String { values[name] ?? fallback }

    func int(_ name: String, _ fallback: Int) -> Int {
        guard let text = values[name] else { return fallback }
        guard let value = Int(text) else {
            writeError("ingestd-bench: --\(name) wants an integer, got '\(text)'\n")
            exit(64)
        }
        return value
    }

    func flag(_ name: String) -> Bool { values[name] != nil }
}

/// IngestCore's clocks, as the signed nanoseconds the bench's arithmetic uses.
func monotonicNanos() -> Int64 { Int64(SystemMonotonicClock().now()) }

func wallClockNanos() -> Int64 { SystemWallClock().nanosecondsSinceEpoch() }

func fail(_ message: String) -> Never {
    writeError("ingestd-bench: \(message)\n")
    exit(1)
}

/// Writes one line to stdout at once, unbuffered (the orchestrator reads it through a pipe).
func emit(_ line: String) {
    writeAll(1, line + "\n")
}

func writeError(_ text: String) {
    writeAll(2, text)
}

private func writeAll(_ fd: Int32, _ text: String) {
    var bytes = Array(text.utf8)[...]
    while !bytes.isEmpty {
        let written = bytes.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        if written < 0 && errno == EINTR { continue }
        guard written > 0 else { return }
        bytes = bytes.dropFirst(written)
    }
}
