import IngestCore

/// The pipeline's messages that wait for their device's registry lookup, and those lookups
/// (README "Slow or hung registry"). The rules (per-device order, the bound) are IngestCore's
/// `LookupWaitingRoom`; this type executes them: it asks the auth cache, starts one lookup per
/// waiting device, and hands messages back once their device's lookup answered.
///
/// Owned by the pipeline's task alone (a class only so the pipeline's loop can share it with its
/// helpers; never shared across tasks), so the hot path takes no lock of its own: a message of a
/// cached device while nothing waits costs one comparison more than the cache hit.
final class RegistryWaits {
    struct Waiting {
        var message: InboundMessage
        var validated: ValidatedMessage
    }

    /// A message whose device's lookup answered: `refusal` nil means it may be written.
    struct Released {
        var message: InboundMessage
        var validated: ValidatedMessage
        var refusal: RejectReason?
    }

    enum Decision {
        /// The device may write now.
        case authorized
        /// The message waits for its device's lookup; it comes back from `takeReleased()`.
        case waiting
        /// No room to wait: nothing was taken; wait for an answer (`waitForAnswer()`), then ask again.
        case full
    }

    private var room: LookupWaitingRoom<Waiting>
    private let auth: AuthService
    private let answers: LookupAnswers

    init(auth: AuthService, limits: LookupWaitingRoom<Waiting>.Limits, intake: IntakeQueue) {
        self.auth = auth
        self.room = LookupWaitingRoom(limits: limits)
        self.answers = LookupAnswers(intake: intake)
    }

    var isEmpty: Bool { room.isEmpty }
    var messagesWaiting: Int { room.count }
    var lookupsRunning: Int { room.lookupsRunning }

    /// Throws the reason a cached record refuses the message.
    func authorize(_ validated: ValidatedMessage, _ message: InboundMessage) throws(RejectReason) -> Decision {
        // Before the cache: a device with messages waiting keeps its later ones behind them.
        if !room.isEmpty {
            let key = validated.address.deviceKey
            if room.isWaiting(key) {
                return room.admit(Waiting(message: message, validated: validated), of: key, bytes: message.payload.count) == .full
                    ? .full : .waiting
            }
        }
        switch try auth.authorizeCached(validated) {
        case .authorized:
            return .authorized
        case let .needsLookup(pending):
            switch room.admit(Waiting(message: message, validated: validated), of: pending.key, bytes: message.payload.count) {
            case .full:
                return .full
            case .waitBehind:
                return .waiting
            case .startLookup:
                let auth = self.auth
                let answers = self.answers
                // A task per device looked up, not per message: it ends within REGISTRY_WAIT_SECONDS
                // (`AuthService.resolve`), and the pipeline waits for every one before it returns.
                Task { answers.post(pending.key, await auth.resolve(pending)) }
                return .waiting
            }
        }
    }

    /// The messages whose device's lookup answered since the last call, each device's in arrival order.
    func takeReleased() -> [Released] {
        guard !room.isEmpty else { return [] }
        var released: [Released] = []
        for answer in answers.takeAll() {
            for waiting in room.release(answer.key) {
                var refusal: RejectReason?
                switch answer.result {
                case let .success(entry):
                    do throws(RejectReason) {
                        try auth.authorize(waiting.validated, entry: entry)
                    } catch {
                        refusal = error
                    }
                case let .failure(reason):
                    refusal = reason
                }
                released.append(Released(message: waiting.message, validated: waiting.validated, refusal: refusal))
            }
        }
        return released
    }

    /// Returns once a lookup answered (at most REGISTRY_WAIT_SECONDS after it started).
    func waitForAnswer() async {
        guard !room.isEmpty else { return }
        await answers.waitForAnswer()
    }
}
