import BuildVersion

/// ingestd's version, as `--version`, the start-up log line and `/metrics` show it: made at build time
/// from `git describe` (README "Version").
public enum IngestdVersion {
    public static let current = BuildVersion.current
}
