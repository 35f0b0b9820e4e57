import ArgumentParser
import Foundation
import IngestCore
import IngestService

/// `ingestd map --topic T [--payload FILE|-]`: runs one message through MAPPING_FILE's rules (or the
/// built-in envelope rule) and prints the rule that matched and the line protocol it makes, or the
/// reject reason: the tool for writing rules (README, "Mapping other devices").
struct MapCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "map",
        abstract: "Show which mapping rule takes a message and the line protocol it writes, or why it is refused.",
        discussion: "Exit 0 when the message would be written, 1 when it would be refused, 78 when the settings or MAPPING_FILE are bad."
    )

    @Option(help: "The message's MQTT topic.")
    var topic: String

    @Option(help: "File holding the payload, or - for standard input (default: an empty payload).")
    var payload: String?

    func run() async throws {
        let settings = try SettingsLoader.loadOrExit()
        let rules: MappingRuleSet
        do {
            rules = try settings.loadMappingRules()
        } catch {
            FileHandle.standardError.write(Data("invalid mapping file \(settings.mappingFile ?? ""): \(error)\n".utf8))
            throw ExitCode(IngestExitCode.badConfiguration.rawValue)
        }
        let bytes: [UInt8]
        switch payload {
        case nil: bytes = []
        case "-"?: bytes = Array(FileHandle.standardInput.readDataToEndOfFile())
        case let path?:
            guard let data = FileManager.default.contents(atPath: path) else {
                throw ValidationError("cannot read the payload file \(path)")
            }
            bytes = Array(data)
        }
        let received = Int64(Date().timeIntervalSince1970 * 1e9)
        // The rate limit is about a stream, not one message.
        var limiter = RateLimiter(ratePerSecond: 0, burst: 1, maxDevices: 1)
        var scratch = MappingScratch()
        let pipeline = settings.pipelineConfiguration(clock: SystemMonotonicClock())
        do throws(RejectReason) {
            switch try rules.map(topic: topic, payload: bytes, receivedAtNanos: received, maxPayloadBytes: settings.maxPayloadBytes,
                                 rateLimiter: &limiter, scratch: &scratch) {
            case let .envelope(index):
                let message = try pipeline.validator.validate(topic: topic, payload: bytes, rateLimiter: &limiter, now: 0)
                var line: [UInt8] = []
                let skipped = try pipeline.encoder.append(message, receivedAtNanos: received, to: &line)
                print("rule: \(rules.rules[index].name) (envelope)")
                print("database: \(pipeline.databaseNamer.database(forTenant: message.address.tenantID))")
                print("registry: device \(message.address.tenantID)/\(message.address.deviceID), site \(message.siteID) (checked by the daemon)")
                print("skipped fields: \(skipped)")
                print(String(decoding: line, as: UTF8.self), terminator: "")
            case let .mapped(index, database, lineCount, skipped, registryDevice):
                print("rule: \(rules.rules[index].name)")
                print("database: \(database)")
                if let registryDevice {
                    print("registry: device \(registryDevice.tenantID)/\(registryDevice.deviceID) must be registered and ACTIVE (checked by the daemon)")
                }
                print("lines: \(lineCount), skipped fields: \(skipped)")
                print(String(decoding: scratch.output, as: UTF8.self), terminator: "")
            }
        } catch {
            print("rejected: \(error.rawValue)")
            throw ExitCode(1)
        }
    }
}
