import IngestCore
import Synchronization

/// The rules in force, swapped whole by a reload. A mutex rather than an actor: the pipeline reads
/// them once per chunk of messages, synchronously, and must not suspend for it.
public final class MappingRulesStore: Sendable {
    private let rules: Mutex<MappingRuleSet>

    public init(_ rules: MappingRuleSet) {
        self.rules = Mutex(rules)
    }

    public var current: MappingRuleSet { rules.withLock { $0 } }

    public func replace(with newRules: MappingRuleSet) {
        rules.withLock { $0 = newRules }
    }
}
