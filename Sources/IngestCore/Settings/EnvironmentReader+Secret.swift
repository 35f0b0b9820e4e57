extension EnvironmentReader {
    /// A secret setting, from exactly one of three places (README "Secrets"): the variable itself,
    /// the file named by `<NAME>_FILE` (Docker secrets), or the systemd credential
    /// `$CREDENTIALS_DIRECTORY/<NAME>` (`LoadCredential=<NAME>:…`). Given in more than one place it is
    /// a configuration error, since which one wins would be a guess. A file's surrounding white space
    /// (the trailing newline of `echo … > file`) is dropped; an empty file is an error, as is a
    /// `<NAME>_FILE` that cannot be read. `read` does the file I/O.
    public mutating func secret(_ name: String, read: (String) -> SecretFileRead) throws(SettingsError) -> String? {
        let fileVariable = name + "_FILE"
        var given: [(source: String, value: String)] = []
        if let value = raw(name) {
            given.append((name, value))
        }
        if let path = raw(fileVariable) {
            switch read(path) {
            case .contents(let text):
                given.append((fileVariable, try Self.secretText(text, variable: fileVariable, path: path)))
            case .missing:
                throw .unreadableFile(name: fileVariable, path: path, reason: "no such file")
            case .unreadable(let reason):
                throw .unreadableFile(name: fileVariable, path: path, reason: reason)
            }
        }
        if let directory = raw("CREDENTIALS_DIRECTORY") {
            let path = directory + "/" + name
            let source = "$CREDENTIALS_DIRECTORY/\(name)"
            switch read(path) {
            case .contents(let text):
                given.append((source, try Self.secretText(text, variable: source, path: path)))
            case .missing:
                break
            case .unreadable(let reason):
                throw .unreadableFile(name: source, path: path, reason: reason)
            }
        }
        if given.count > 1 {
            throw .conflict(names: given.map(\.source), reason: "\(name) is a secret given more than once; give it one way only")
        }
        let shown = given.first.map { $0.source == name ? "(set, redacted)" : "(set from \($0.source), redacted)" } ?? "(not set)"
        entries.append(SettingEntry(name: name, displayValue: shown, isSecret: true, isFromEnvironment: !given.isEmpty))
        return given.first?.value
    }

    private static func secretText(_ text: String, variable: String, path: String) throws(SettingsError) -> String {
        let value = text.trimmingWhitespace()
        guard !value.isEmpty else { throw .unreadableFile(name: variable, path: path, reason: "the file is empty") }
        return value
    }
}
