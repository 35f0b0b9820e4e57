/// The version this binary was built as; `generatedVersion` comes from scripts/version.sh through
/// Plugins/VersionPlugin at build time (README "Version").
///
/// A module of its own so that a new commit recompiles one small file, not the service.
public enum BuildVersion {
    public static let current: String = generatedVersion
}
