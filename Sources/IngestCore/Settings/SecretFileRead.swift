import Foundation

/// What reading a secret's file gave (README "Secrets"). `Settings` takes the reading function as a
/// parameter, so the parser itself stays free of file I/O and its tests need no files.
public enum SecretFileRead: Sendable, Equatable {
    case contents(String)
    case missing
    case unreadable(reason: String)

    /// Reads `path` from the file system: a Docker secret (`<NAME>_FILE`) or a systemd credential.
    public static func fromDisk(_ path: String) -> SecretFileRead {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else { return .missing }
        if isDirectory.boolValue { return .unreadable(reason: "it is a directory") }
        guard let data = FileManager.default.contents(atPath: path) else { return .unreadable(reason: "permission denied") }
        return .contents(String(decoding: data, as: UTF8.self))
    }
}
