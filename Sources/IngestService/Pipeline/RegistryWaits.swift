import IngestCore

/// The pipeline's messages that wait for their device's registry lookup, and those lookups
/// (README "Slow or hung registry"). The rules (per-device order, the bound) are IngestCore's
/// `LookupWaitingRoom`; this type executes them: it asks the auth cache, starts one lookup per
/// waiting device, and hands messages back once their device's lookup answered.
///
/// The lookups of a round (the devices that missed in one chunk) start together, as one batch
/// (`AuthService.startLookups`), when the pipeline is about to wait or hand its lines on
/// (`startLookups()`): a cold cache of a thousand devices so costs two or three batches, not a
/// thousand tasks alive at once.
///
/// Envelope messages and mapped messages of `registry: true` rules (README "Mapping other devices")
/// wait in the same room, by the same (tenant, device) key, so a device keeps its order whichever
/// rule maps it.
///
/// Owned by the pipeline's task alone (a class only so the pipeline's loop can share it with its
/// helpers; never shared across tasks), so the hot path takes no lock of its own: a message of a
/// cached device while nothing waits costs one comparison more than the cache hit.
final class RegistryWaits {
    /// What a waiting message becomes once its device may write.
    enum Work {
        /// An envelope, checked against the record (status, site, token) and encoded on release.
        case envelope(ValidatedMessage)
        /// A mapped message's lines, made before it waited: only the device's status is checked.
        case mapped(MappedLines)
    }

    struct Waiting {
        var message: InboundMessage
        var work: Work
    }

    /// A message whose device's lookup answered: `refusal` nil means it may be written.
    struct Released {
        var message: InboundMessage
        var work: Work
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
    /// Lookups admitted this round, not started yet (distinct devices: the room starts one per device).
    private var unstarted: [AuthService.PendingLookup] = []

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
                return waitBehind(Waiting(message: message, work: .envelope(validated)), of: key, bytes: message.payload.count)
            }
        }
        switch try auth.authorizeCached(validated) {
        case .authorized:
            return .authorized
        case let .needsLookup(pending):
            return admit(Waiting(message: message, work: .envelope(validated)), pending, bytes: message.payload.count)
        }
    }

    /// The same for a mapped message of a `registry: true` rule: `lines` is asked for only when the
    /// message has to wait (the caller's lines are in a buffer it reuses). A waiting mapped message
    /// counts its payload and its lines against REGISTRY_WAIT_MAX_BYTES: it holds both.
    func authorize(device key: DeviceKey, _ message: InboundMessage, lines: () -> MappedLines) throws(RejectReason) -> Decision {
        if room.isWaiting(key) {
            let mapped = lines()
            return waitBehind(Waiting(message: message, work: .mapped(mapped)), of: key, bytes: message.payload.count + mapped.lines.count)
        }
        switch try auth.authorizeCached(device: key) {
        case .authorized:
            return .authorized
        case let .needsLookup(pending):
            let mapped = lines()
            return admit(Waiting(message: message, work: .mapped(mapped)), pending, bytes: message.payload.count + mapped.lines.count)
        }
    }

    private func waitBehind(_ waiting: Waiting, of key: DeviceKey, bytes: Int) -> Decision {
        room.admit(waiting, of: key, bytes: bytes) == .full ? .full : .waiting
    }

    private func admit(_ waiting: Waiting, _ pending: AuthService.PendingLookup, bytes: Int) -> Decision {
        switch room.admit(waiting, of: pending.key, bytes: bytes) {
        case .full:
            return .full
        case .waitBehind:
            return .waiting
        case .startLookup:
            unstarted.append(pending)
            return .waiting
        }
    }

    /// Starts the lookups admitted since the last call, as one batch. The pipeline calls it before it
    /// suspends (a flush, a wait for an answer): a lookup not started would never answer.
    func startLookups() {
        guard !unstarted.isEmpty else { return }
        let answers = self.answers
        // Each answer is posted as it comes, within REGISTRY_WAIT_SECONDS (`AuthService.startLookups`);
        // the pipeline waits for every one before it returns.
        auth.startLookups(unstarted) { key, result in answers.post(key, result) }
        unstarted.removeAll(keepingCapacity: true)
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
                        switch waiting.work {
                        case let .envelope(validated): try auth.authorize(validated, entry: entry)
                        case .mapped: try auth.authorizeDevice(entry: entry)
                        }
                    } catch {
                        refusal = error
                    }
                case let .failure(reason):
                    refusal = reason
                }
                released.append(Released(message: waiting.message, work: waiting.work, refusal: refusal))
            }
        }
        return released
    }

    /// Returns once a lookup answered (at most REGISTRY_WAIT_SECONDS after it started).
    func waitForAnswer() async {
        guard !room.isEmpty else { return }
        startLookups()
        await answers.waitForAnswer()
    }
}
