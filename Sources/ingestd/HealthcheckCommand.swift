import ArgumentParser
import Foundation
import IngestCore
import IngestService

/// `ingestd healthcheck`: asks a running ingestd's `/readyz` (at `HEALTH_LISTEN`, or `--address`)
/// and exits 0 when it answers 200, 1 otherwise: what Docker's HEALTHCHECK and scripts need.
struct HealthcheckCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "healthcheck",
        abstract: "Ask a running ingestd's /readyz (HEALTH_LISTEN, or --address): exit 0 when ready, 1 when not."
    )

    @Option(help: "host:port of the health server (default: HEALTH_LISTEN).")
    var address: String?

    @Option(help: "Path to ask.")
    var path: String = "/readyz"

    @Option(help: "Seconds to wait for the answer.")
    var timeout: Int = 3

    func run() async throws {
        let text = address ?? ProcessInfo.processInfo.environment["HEALTH_LISTEN"]?.trimmingCharacters(in: .whitespaces) ?? ""
        let target: Settings.ListenAddress
        do {
            guard !text.isEmpty, let parsed = try Settings.ListenAddress(parsing: text, variable: address == nil ? "HEALTH_LISTEN" : "--address") else {
                fail("healthcheck: HEALTH_LISTEN is off; set it (e.g. 127.0.0.1:9464) or pass --address")
            }
            target = parsed
        } catch {
            fail("healthcheck: \(error.description)")
        }
        switch HealthProbe.get(target, path: path, timeoutSeconds: timeout) {
        case .success(let answer) where answer.status == 200:
            print("healthcheck: \(path) \(answer.status): \(answer.body.split(separator: "\n").joined(separator: ", "))")
        case .success(let answer):
            fail("healthcheck: \(path) \(answer.status): \(answer.body.split(separator: "\n").joined(separator: ", "))")
        case .failure(let failure):
            fail("healthcheck: \(failure.description)")
        }
    }

    private func fail(_ line: String) -> Never {
        FileHandle.standardError.write(Data((line + "\n").utf8))
        Foundation.exit(1)
    }
}
