/// A mapped message's lines, kept while its device waits for a registry lookup (README "Mapping
/// other devices", `registry: true`): the pipeline's mapping buffer is reused by the next message,
/// so a waiting message holds a copy of what it became.
struct MappedLines {
    var database: String
    var lines: [UInt8]
    var lineCount: Int
    var skippedFields: Int
}
