/// A mapping rule's topic filter: MQTT levels where `{name}` captures one level, `+` matches one
/// level without naming it and a final `#` matches the rest (README, "Mapping other devices").
///
/// Compiled once; matching walks the topic's bytes without building Strings and records each
/// capture as a byte range of the topic.
public struct TopicFilter: Sendable, Equatable {
    enum Level: Sendable, Equatable {
        case literal([UInt8])
        case capture(Int)
        case any
        case rest
    }

    public let text: String
    let levels: [Level]
    /// Capture names in order; a template's `{name}` refers to one of them by index.
    public let captureNames: [String]

    public enum CompileError: Error, Equatable {
        case empty
        case badLevel(String)
        case repeatedCapture(String)
    }

    public init(_ text: String) throws(CompileError) {
        guard !text.isEmpty else { throw .empty }
        var levels: [Level] = []
        var names: [String] = []
        let parts = text.split(separator: "/", omittingEmptySubsequences: false)
        for (position, part) in parts.enumerated() {
            if part == "#" {
                guard position == parts.count - 1 else { throw .badLevel(String(part)) }
                levels.append(.rest)
            } else if part == "+" {
                levels.append(.any)
            } else if part.first == "{" && part.last == "}" && part.count > 2 {
                let name = String(part.dropFirst().dropLast())
                guard name.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "_" }) else { throw .badLevel(String(part)) }
                guard !names.contains(name) else { throw .repeatedCapture(name) }
                levels.append(.capture(names.count))
                names.append(name)
            } else {
                guard !part.contains("+"), !part.contains("#"), !part.contains("{"), !part.contains("}") else {
                    throw .badLevel(String(part))
                }
                levels.append(.literal(Array(part.utf8)))
            }
        }
        self.text = text
        self.levels = levels
        self.captureNames = names
    }

    /// The MQTT subscription that receives what this filter matches (`{name}` becomes `+`).
    public var subscription: String {
        levels.map { level -> String in
            switch level {
            case .literal(let bytes): String(decoding: bytes, as: UTF8.self)
            case .capture, .any: "+"
            case .rest: "#"
            }
        }.joined(separator: "/")
    }

    /// Matches `topic`; on success `captures` holds one range per capture name (in the topic's bytes).
    func match(_ topic: UnsafeRawBufferPointer, captures: inout [Range<Int>]) -> Bool {
        captures.removeAll(keepingCapacity: true)
        var start = 0
        var levelIndex = 0
        while true {
            guard levelIndex < levels.count else { return false }
            var end = start
            while end < topic.count && topic[end] != UInt8(ascii: "/") { end += 1 }
            switch levels[levelIndex] {
            case .rest:
                return true
            case .any:
                break
            case .capture:
                // An empty level is no name.
                guard end > start else { return false }
                captures.append(start..<end)
            case .literal(let bytes):
                guard end - start == bytes.count,
                      bytes.withUnsafeBytes({ UnsafeRawBufferPointer(rebasing: topic[start..<end]).hasSameBytes(as: $0) })
                else { return false }
            }
            levelIndex += 1
            if end == topic.count {
                // `a/#` also matches `a` (MQTT's rule for a trailing multi-level wildcard).
                return levelIndex == levels.count || (levelIndex == levels.count - 1 && levels[levelIndex] == .rest)
            }
            start = end + 1
        }
    }
}
