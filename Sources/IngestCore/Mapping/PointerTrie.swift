/// The JSON pointers of one rule merged into a tree, so one walk of the document finds every value
/// the rule needs: at each object key the walker looks for a child with that key (a handful per
/// node, compared as bytes) and skips the whole subtree when there is none.
struct PointerTrie: Sendable {
    struct Child: Sendable {
        var key: [UInt8]
        var index: Int?
        var node: Int
    }

    struct Node: Sendable {
        var children: [Child] = []
        /// Where the scalar found here is kept for the rule (a field, tag, measurement or timestamp).
        var slot: Int?
        /// Every scalar under here becomes a field (`flatten`).
        var flattens = false
        /// The array of readings (`readings`): its position is kept, its elements mapped afterwards.
        var readings = false
        /// `flatten.exclude`: not flattened.
        var excluded = false
    }

    private(set) var nodes: [Node] = [Node()]

    var isEmpty: Bool { nodes.count == 1 && nodes[0].slot == nil && !nodes[0].flattens && !nodes[0].readings }

    /// The node of `pointer`, created as needed.
    mutating func node(for pointer: JSONPointer) -> Int {
        var current = 0
        for token in pointer.tokens {
            if let child = nodes[current].children.first(where: { $0.key == token.key }) {
                current = child.node
            } else {
                nodes.append(Node())
                nodes[current].children.append(Child(key: token.key, index: token.index, node: nodes.count - 1))
                current = nodes.count - 1
            }
        }
        return current
    }

    /// The slot of `pointer`, allocated from `nextSlot` the first time: settings naming the same
    /// pointer share one value.
    mutating func slot(for pointer: JSONPointer, nextSlot: inout Int) -> Int {
        let node = node(for: pointer)
        if let slot = nodes[node].slot { return slot }
        nodes[node].slot = nextSlot
        nextSlot += 1
        return nodes[node].slot!
    }

    mutating func markFlatten(_ pointer: JSONPointer) { nodes[node(for: pointer)].flattens = true }
    mutating func markReadings(_ pointer: JSONPointer) { nodes[node(for: pointer)].readings = true }
    mutating func markExcluded(_ pointer: JSONPointer) { nodes[node(for: pointer)].excluded = true }

    @inline(__always)
    func child(of node: Int, key reader: JSONReader) -> Int? {
        for child in nodes[node].children where reader.lastStringEquals(child.key) { return child.node }
        return nil
    }

    @inline(__always)
    func child(of node: Int, index: Int) -> Int? {
        for child in nodes[node].children where child.index == index { return child.node }
        return nil
    }
}
