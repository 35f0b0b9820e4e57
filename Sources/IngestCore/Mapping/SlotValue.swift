/// A scalar a rule's pointer found in the payload, kept by position: a number as its literal bytes
/// in the payload, a string as its decoded bytes in `MappingScratch.strings`.
struct SlotValue: Sendable {
    enum Kind: UInt8, Sendable {
        case absent, null, boolean, number, string
    }

    var kind: Kind = .absent
    /// A boolean's value, or whether a number is written as an integer.
    var flag = false
    var start = 0
    var end = 0

    static let absent = SlotValue()
}
