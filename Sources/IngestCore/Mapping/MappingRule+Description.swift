extension MappingRule: CustomStringConvertible {
    /// What `ingestd check-config` prints for the rule: every setting as compiled, defaults filled in.
    public var description: String {
        var lines = ["rule \(name): topic \(filter.text) (subscribes to \(filter.subscription)), payload \(payload.rawValue)"]
        if payload == .envelope {
            lines.append("  the origin envelope: README, \"Device messages\"")
            return lines.joined(separator: "\n")
        }
        lines.append("  database: " + (database.map { "\($0)" } ?? "INFLUXDB_DB_TEMPLATE with tenant \(tenant)"))
        if let device { lines.append("  device (rate limit): \(device)") }
        if registry, let device {
            lines.append("  registry: tenant_id \"\(tenant)\", device_id \"\(device)\" must be registered and ACTIVE (no site or token check)")
        } else {
            lines.append("  registry: not checked")
        }
        if let measurement { lines.append("  measurement: \(Self.text(measurement))") }
        for tag in tags { lines.append("  tag \(tag.key): \(Self.text(tag.source))") }
        if let readings { lines.append("  readings: one point per element of \(readings) (fields and time inside each)") }
        for field in fields { lines.append("  field \(field.name): \(field.type.rawValue) at \(field.pointer)") }
        if let flatten {
            var line = "  flatten: every scalar under \"\(flatten.pointer)\", names joined with \"\(flatten.separator)\""
            if !flatten.prefix.isEmpty { line += ", prefix \"\(flatten.prefix)\"" }
            line += ", type \(flatten.type?.rawValue ?? "auto (number float, boolean, string)")"
            if !flatten.exclude.isEmpty { line += ", except \(flatten.exclude.map(\.text).joined(separator: ", "))" }
            lines.append(line)
        }
        if let value { lines.append("  value: the payload as field \(value.field), \(value.type.rawValue)") }
        if payload == .json || payload == .value {
            lines.append("  time: " + (timestamp.map { "\($0.pointer) (\($0.format.rawValue)), else receipt time" } ?? "receipt time"))
            lines.append("  on_type_error: \(onTypeError.rawValue)")
        }
        return lines.joined(separator: "\n")
    }

    private static func text(_ source: Source) -> String {
        switch source {
        case .template(let template): "\"\(template)\""
        case .pointer(let pointer, _): "JSON \(pointer)"
        }
    }
}
