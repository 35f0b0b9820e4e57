import ArgumentParser
import IngestService

@main
struct IngestdCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ingestd",
        abstract: "Moves device telemetry from an MQTT broker into InfluxDB, losing nothing it accepted.",
        discussion: """
            Without a sub-command, runs the daemon. Configured by environment variables only: `ingestd check-config` \
            prints every setting with its effective value, and the Debian package's /etc/default/ingestd lists each one \
            with its default and meaning (README.md, "Settings"). Exit codes: 0 clean stop, 1 failure, 64 usage error, \
            75 another instance holds SPOOL_DIR, 78 bad configuration.
            """,
        version: IngestdVersion.current,
        subcommands: [RunCommand.self, CheckConfigCommand.self, HashTokenCommand.self, MapCommand.self, SpoolCommand.self, HealthcheckCommand.self],
        defaultSubcommand: RunCommand.self
    )
}
