import Foundation
import PackagePlugin

/// Writes the version of this build (scripts/version.sh: `git describe`, a `git archive` tarball's
/// substituted hash, or VERSION with "+unknown") into a Swift file of the target it is applied to.
///
/// A prebuild command, so it runs on every build: a new commit changes `--version` without a clean
/// build. version.sh rewrites the file only when the version changed, so an unchanged version
/// recompiles nothing.
@main
struct VersionPlugin: BuildToolPlugin {
    func createBuildCommands(context: PluginContext, target: Target) async throws -> [Command] {
        let output = context.pluginWorkDirectoryURL.appending(path: "Generated")
        try FileManager.default.createDirectory(at: output, withIntermediateDirectories: true)
        let script = context.package.directoryURL.appending(path: "scripts/version.sh")
        var environment: [String: String] = [:]
        // A distribution build names its version itself (README "Version").
        if let pinned = ProcessInfo.processInfo.environment["INGESTD_VERSION"] { environment["INGESTD_VERSION"] = pinned }
        if let path = ProcessInfo.processInfo.environment["PATH"] { environment["PATH"] = path }
        return [
            .prebuildCommand(
                displayName: "ingestd version",
                executable: URL(filePath: "/bin/sh"),
                arguments: [script.path(percentEncoded: false), "--swift",
                            output.appending(path: "GeneratedVersion.swift").path(percentEncoded: false)],
                environment: environment,
                outputFilesDirectory: output
            ),
        ]
    }
}
