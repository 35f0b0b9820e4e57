import ArgumentParser
import IngestService

struct RunCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Run the daemon (the default): subscribe, validate, write to InfluxDB until SIGTERM or SIGINT."
    )

    func run() async throws {
        let settings = try SettingsLoader.loadOrExit()
        LineLogHandler.bootstrap(format: settings.logFormat, level: settings.logLevel)
        let code = await IngestDaemon(settings: settings).run()
        if code != .clean { throw ExitCode(code.rawValue) }
    }
}
