import ArgumentParser
import IngestService

@main
struct IngestdCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ingestd",
        abstract: "Moves device telemetry from an MQTT broker into InfluxDB, losing nothing it accepted.",
        discussion: "Configured by environment variables; see README.md. Without a sub-command, runs the daemon.",
        version: IngestdVersion.current,
        subcommands: [RunCommand.self, CheckConfigCommand.self, HashTokenCommand.self, MapCommand.self, SpoolCommand.self, HealthcheckCommand.self],
        defaultSubcommand: RunCommand.self
    )
}
