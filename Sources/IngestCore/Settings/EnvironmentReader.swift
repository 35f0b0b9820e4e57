/// Reads typed values out of an environment dictionary, checking each one and remembering what it
/// read so `check-config` can print the effective settings without a second list of names.
///
/// Every accessor throws `SettingsError.invalidValue` naming the variable, the value and what is allowed:
/// a bad value must stop start-up with a clear line, never fall back silently to a default.
public struct EnvironmentReader: Sendable {
    public internal(set) var entries: [SettingEntry] = []
    private let environment: [String: String]

    public init(_ environment: [String: String]) {
        self.environment = environment
    }

    /// The raw value, with surrounding white space removed; an empty value counts as unset, as in
    /// docker-compose files where `FOO=` means "not configured".
    func raw(_ name: String) -> String? {
        guard let value = environment[name]?.trimmingWhitespace(), !value.isEmpty else { return nil }
        return value
    }

    private mutating func record(_ name: String, _ display: String, secret: Bool = false) {
        let fromEnvironment = raw(name) != nil
        let shown = secret ? (fromEnvironment ? "(set, redacted)" : "(not set)") : display
        entries.append(SettingEntry(name: name, displayValue: shown, isSecret: secret, isFromEnvironment: fromEnvironment))
    }

    public mutating func string(_ name: String, default defaultValue: String) -> String {
        let value = raw(name) ?? defaultValue
        record(name, value)
        return value
    }

    public mutating func optionalString(_ name: String, secret: Bool = false) -> String? {
        let value = raw(name)
        record(name, value ?? "(not set)", secret: secret)
        return value
    }

    public mutating func integer(_ name: String, default defaultValue: Int, range: ClosedRange<Int>) throws(SettingsError) -> Int {
        let value: Int
        if let text = raw(name) {
            guard let parsed = Int(text), range.contains(parsed) else {
                throw .invalidValue(name: name, value: text, allowed: "an integer from \(range.lowerBound) to \(range.upperBound)")
            }
            value = parsed
        } else {
            value = defaultValue
        }
        record(name, String(value))
        return value
    }

    public mutating func decimal(_ name: String, default defaultValue: Double, range: ClosedRange<Double>) throws(SettingsError) -> Double {
        let value: Double
        if let text = raw(name) {
            guard let parsed = Double(text), parsed.isFinite, range.contains(parsed) else {
                throw .invalidValue(name: name, value: text, allowed: "a number from \(range.lowerBound.compactDescription) to \(range.upperBound.compactDescription)")
            }
            value = parsed
        } else {
            value = defaultValue
        }
        record(name, value.compactDescription)
        return value
    }

    /// Accepts 1/0, true/false, yes/no, on/off in any case.
    public mutating func flag(_ name: String, default defaultValue: Bool) throws(SettingsError) -> Bool {
        let value: Bool
        if let text = raw(name) {
            switch text.lowercased() {
            case "1", "true", "yes", "on": value = true
            case "0", "false", "no", "off": value = false
            default: throw .invalidValue(name: name, value: text, allowed: "1 or 0 (also true/false, yes/no, on/off)")
            }
        } else {
            value = defaultValue
        }
        record(name, value ? "1" : "0")
        return value
    }

    /// One of a fixed set of words, compared case-insensitively.
    public mutating func choice<Choice: RawRepresentable & CaseIterable>(
        _ name: String, default defaultValue: Choice
    ) throws(SettingsError) -> Choice where Choice.RawValue == String {
        let value: Choice
        if let text = raw(name) {
            guard let match = Choice.allCases.first(where: { $0.rawValue.lowercased() == text.lowercased() }) else {
                let allowed = Choice.allCases.map(\.rawValue).joined(separator: ", ")
                throw .invalidValue(name: name, value: text, allowed: "one of \(allowed)")
            }
            value = match
        } else {
            value = defaultValue
        }
        record(name, value.rawValue)
        return value
    }

    /// A comma-separated list; empty items are ignored. An explicitly empty list is an error because
    /// a daemon that subscribes to nothing or accepts no message type is never what was meant.
    public mutating func list(_ name: String, default defaultValue: [String]) throws(SettingsError) -> [String] {
        let value: [String]
        if let text = raw(name) {
            let items = text.split(separator: ",").map { String($0).trimmingWhitespace() }.filter { !$0.isEmpty }
            guard !items.isEmpty else {
                throw .invalidValue(name: name, value: text, allowed: "a comma-separated list with at least one item")
            }
            value = items
        } else {
            value = defaultValue
        }
        record(name, value.joined(separator: ","))
        return value
    }

    /// An optional URL with an http or https scheme and a host.
    public mutating func httpURL(_ name: String, default defaultValue: String) throws(SettingsError) -> String {
        let text = raw(name) ?? defaultValue
        let lowered = text.lowercased()
        let schemeEnd: String.Index?
        if lowered.hasPrefix("http://") { schemeEnd = text.index(text.startIndex, offsetBy: 7) }
        else if lowered.hasPrefix("https://") { schemeEnd = text.index(text.startIndex, offsetBy: 8) }
        else { schemeEnd = nil }
        guard let start = schemeEnd, text[start...].first.map({ $0 != "/" }) == true,
              !text.contains(" ") else {
            throw .invalidValue(name: name, value: text, allowed: "an http:// or https:// URL with a host, e.g. http://localhost:8181")
        }
        // A trailing slash would produce `//api/...` paths, which some proxies refuse.
        var value = text
        while value.hasSuffix("/") { value.removeLast() }
        record(name, value)
        return value
    }
}

extension String {
    func trimmingWhitespace() -> String {
        var slice = Substring(self)
        while let first = slice.first, first.isWhitespace { slice.removeFirst() }
        while let last = slice.last, last.isWhitespace { slice.removeLast() }
        return String(slice)
    }
}

extension Double {
    /// `5` rather than `5.0`, so printed settings look like what the user typed.
    var compactDescription: String {
        rounded() == self && abs(self) < 1e15 ? String(Int64(self)) : String(self)
    }
}
