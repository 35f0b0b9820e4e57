/// One pass over a JSON document (or one element of a rule's readings) guided by a rule's
/// `PointerTrie`: values a pointer names go into their slots, scalars under the flatten pointer
/// become fields at once, subtrees nothing names are skipped (still validated: RFC 8259, UTF-8,
/// nesting, as `JSONReader` does everywhere).
struct JSONMappingWalk {
    var reader: JSONReader
    let trie: PointerTrie
    let flatten: MappingRule.Flatten?
    let policy: MappingRule.TypeErrorPolicy
    let limits: EnvelopeLimits
    /// Where the readings array starts in the payload, once the walk passed it.
    var readingsAt: Int?
    var fieldCount = 0
    var skipped = 0

    init(reader: JSONReader, rule: MappingRule, trie: PointerTrie, limits: EnvelopeLimits) {
        self.reader = reader
        self.trie = trie
        self.flatten = rule.flatten
        self.policy = rule.onTypeError
        self.limits = limits
    }

    mutating func walk(node: Int?, flattening: Bool, depth: Int, scratch: inout MappingScratch) throws(RejectReason) {
        guard node != nil || flattening else {
            try reader.skipValue(depth: depth)
            return
        }
        var flattening = flattening
        if let node {
            let current = trie.nodes[node]
            if current.excluded {
                // Not flattened; a pointer below it (the time, say) still finds its value.
                guard current.slot != nil || !current.children.isEmpty else {
                    try reader.skipValue(depth: depth)
                    return
                }
                flattening = false
            }
            if current.readings {
                guard try reader.peekKind() == .array else { throw .badJSON }
                readingsAt = reader.index
                try reader.skipValue(depth: depth)
                return
            }
            if current.flattens, !current.excluded, let flatten {
                flattening = true
                scratch.path.removeAll(keepingCapacity: true)
                scratch.path.append(contentsOf: flatten.prefixBytes)
            }
        }
        let rootLength = flatten?.prefixBytes.count ?? 0
        switch try reader.peekKind() {
        case .object:
            guard depth <= JSONReader.maxDepth else { throw .badJSON }
            reader.index += 1
            if reader.consume(UInt8(ascii: "}")) { return }
            repeat {
                reader.skipWhitespace()
                try reader.readString()
                let child = node.flatMap { trie.child(of: $0, key: reader) }
                let mark = scratch.path.count
                if flattening {
                    if mark > rootLength, let flatten { scratch.path.append(contentsOf: flatten.separatorBytes) }
                    reader.appendLastString(to: &scratch.path)
                }
                try reader.expect(UInt8(ascii: ":"))
                try walk(node: child, flattening: flattening, depth: depth + 1, scratch: &scratch)
                if flattening { scratch.path.removeSubrange(mark...) }
            } while reader.consume(UInt8(ascii: ","))
            try reader.expect(UInt8(ascii: "}"))
        case .array:
            guard depth <= JSONReader.maxDepth else { throw .badJSON }
            reader.index += 1
            if reader.consume(UInt8(ascii: "]")) { return }
            var position = 0
            repeat {
                let child = node.flatMap { trie.child(of: $0, index: position) }
                let mark = scratch.path.count
                if flattening {
                    if mark > rootLength, let flatten { scratch.path.append(contentsOf: flatten.separatorBytes) }
                    LineProtocolText.appendDecimal(Int64(position), to: &scratch.path)
                }
                try walk(node: child, flattening: flattening, depth: depth + 1, scratch: &scratch)
                if flattening { scratch.path.removeSubrange(mark...) }
                position += 1
            } while reader.consume(UInt8(ascii: ","))
            try reader.expect(UInt8(ascii: "]"))
        case .string, .number, .bool, .null:
            let value = try readScalar(scratch: &scratch)
            if let node, let slot = trie.nodes[node].slot {
                // A value another setting uses is not flattened again.
                scratch.slots[slot] = value
            } else if flattening {
                try emitFlattened(value, scratch: &scratch)
            }
        }
    }

    private mutating func readScalar(scratch: inout MappingScratch) throws(RejectReason) -> SlotValue {
        switch try reader.peekKind() {
        case .null:
            try reader.readNull()
            return SlotValue(kind: .null)
        case .bool:
            return SlotValue(kind: .boolean, flag: try reader.readBool())
        case .number:
            let token = try reader.readNumber()
            return SlotValue(kind: .number, flag: token.isInteger, start: token.start, end: token.end)
        default:
            try reader.readString()
            let start = scratch.strings.count
            reader.appendLastString(to: &scratch.strings)
            return SlotValue(kind: .string, start: start, end: scratch.strings.count)
        }
    }

    /// The flattened name is `prefix` + the keys (array positions) below the flatten pointer,
    /// joined by `separator`. Names that are too long, cannot be written, or are `time`, and fields
    /// beyond MAX_METRIC_KEYS, are skipped and counted.
    private mutating func emitFlattened(_ value: SlotValue, scratch: inout MappingScratch) throws(RejectReason) {
        guard value.kind != .null else { return }
        let name = scratch.path
        guard fieldCount < limits.maxMetricKeys, !name.isEmpty, name.count <= limits.maxMetricKeyBytes,
              name != Self.time
        else {
            skipped += 1
            return
        }
        let mark = scratch.fields.count
        scratch.fields.append(UInt8(ascii: ","))
        let written = name.withUnsafeBytes { LineProtocolText.appendName($0, to: &scratch.fields) }
        guard written else {
            scratch.fields.removeSubrange(mark...)
            skipped += 1
            return
        }
        scratch.fields.append(UInt8(ascii: "="))
        switch FieldValueWriter.append(value, type: flatten?.type, payload: reader.bytes, strings: scratch.strings,
                                       to: &scratch.fields) {
        case .written:
            fieldCount += 1
        case .nothing:
            scratch.fields.removeSubrange(mark...)
        case .notConvertible:
            scratch.fields.removeSubrange(mark...)
            if policy == .reject { throw .fieldTypeMismatch }
            skipped += 1
        }
    }

    private static let time: [UInt8] = Array("time".utf8)
}
