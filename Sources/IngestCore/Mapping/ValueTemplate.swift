/// Text with `{name}` placeholders filled from the topic's captures (`home_{device}`), compiled
/// against a `TopicFilter` so a placeholder is a capture index, not a name looked up per message.
public struct ValueTemplate: Sendable, Equatable, CustomStringConvertible {
    enum Part: Sendable, Equatable {
        case literal([UInt8])
        case capture(Int)
    }

    public let text: String
    let parts: [Part]

    public enum CompileError: Error, Equatable {
        case unknownPlaceholder(String)
        case unclosedBrace
    }

    public init(_ text: String, captureNames: [String]) throws(CompileError) {
        self.text = text
        var parts: [Part] = []
        var literal: [UInt8] = []
        var rest = Substring(text)
        while let open = rest.firstIndex(of: "{") {
            literal.append(contentsOf: rest[..<open].utf8)
            guard let close = rest[open...].firstIndex(of: "}") else { throw .unclosedBrace }
            let name = String(rest[rest.index(after: open)..<close])
            guard let index = captureNames.firstIndex(of: name) else { throw .unknownPlaceholder(name) }
            if !literal.isEmpty { parts.append(.literal(literal)) }
            literal = []
            parts.append(.capture(index))
            rest = rest[rest.index(after: close)...]
        }
        literal.append(contentsOf: rest.utf8)
        if !literal.isEmpty { parts.append(.literal(literal)) }
        self.parts = parts
    }

    /// A template without placeholders: its text.
    var constant: [UInt8]? {
        switch parts.count {
        case 0: return []
        case 1: if case .literal(let bytes) = parts[0] { return bytes } else { return nil }
        default: return nil
        }
    }

    /// Appends the filled-in text (not escaped).
    func render(topic: UnsafeRawBufferPointer, captures: [Range<Int>], to buffer: inout [UInt8]) {
        for part in parts {
            switch part {
            case .literal(let bytes): buffer.append(contentsOf: bytes)
            case .capture(let index): buffer.append(bytes: UnsafeRawBufferPointer(rebasing: topic[captures[index]]))
            }
        }
    }

    public var description: String { text }
}
