/// The answer of `/readyz`: ready when MQTT is connected and InfluxDB is writable (or the spool
/// accepts batches), with the value of each check so an operator sees why not.
public struct ReadinessReport: Sendable, Equatable {
    public struct Check: Sendable, Equatable {
        public var name: String
        public var ok: Bool

        public init(name: String, ok: Bool) {
            self.name = name
            self.ok = ok
        }
    }

    public var checks: [Check]

    public init(checks: [Check]) {
        self.checks = checks
    }

    /// `mqtt_connected` and (`influx_writable` or `spool_accepting`). `registryUp` (a database
    /// registry) is shown but does not decide: cached devices keep flowing while it hangs or is down
    /// (README "Slow or hung registry").
    public init(mqttConnected: Bool, influxWritable: Bool, spoolAccepting: Bool, registryUp: Bool? = nil) {
        checks = [
            Check(name: "mqtt_connected", ok: mqttConnected),
            Check(name: "influx_writable", ok: influxWritable),
            Check(name: "spool_accepting", ok: spoolAccepting),
        ]
        if let registryUp { checks.append(Check(name: "registry_up", ok: registryUp)) }
    }

    public var isReady: Bool {
        func ok(_ name: String) -> Bool { checks.first { $0.name == name }?.ok ?? false }
        return ok("mqtt_connected") && (ok("influx_writable") || ok("spool_accepting"))
    }

    /// `ready` or `not ready`, then one `name 1|0` line per check.
    public var text: String {
        var lines = [isReady ? "ready" : "not ready"]
        for check in checks { lines.append("\(check.name) \(check.ok ? 1 : 0)") }
        return lines.joined(separator: "\n") + "\n"
    }
}
