import IngestCore

/// Registry lookups of cache misses, in batches (README "Slow or hung registry").
///
/// The pipeline starts the lookups of the devices that missed in one round (one chunk of the intake)
/// together: one task runs them, one timer holds the batch's deadline. A cold cache of thousands of
/// devices so costs a few tasks, not a task and a deadline race per device: those, all alive at once,
/// were most of the daemon's peak memory at a cold start (README "Benchmark").
extension AuthService {
    /// A device's answer: the record, else the stale record, else the reason it is refused.
    typealias LookupAnswer = @Sendable (DeviceKey, Result<AuthCacheEntry, RejectReason>) -> Void

    /// Starts the lookups of `batch` (distinct devices) and returns at once. `answer` is called exactly
    /// once per device, from another task, within REGISTRY_WAIT_SECONDS whatever the registry does.
    ///
    /// The lookups run on one task, `DeviceRegistry.maxConcurrentLookups` of them at a time (child
    /// tasks), so a slow device holds up no other beyond what the registry's own pool does. The
    /// deadline is a second task that sleeps until it, answers for every device still waiting, and
    /// cancels the lookups; a query that ignores cancellation is left to end on its own, its late
    /// answer discarded.
    func startLookups(_ batch: [PendingLookup], answer: @escaping LookupAnswer) {
        guard !batch.isEmpty else { return }
        let started = ContinuousClock.now
        let waitLimit = Duration.milliseconds(Int64(configuration.registryWaitSeconds * 1000))
        let race = LookupBatchRace(count: batch.count)
        // REGISTRY_WAIT_SECONDS=0 leaves one attempt to the registry's own query timeout: no timer.
        let timer: Task<Void, Never>? = waitLimit > .zero ? Task {
            try? await Task.sleep(until: started + waitLimit, clock: .continuous)
            guard !Task.isCancelled else { return }
            for index in race.expire() {
                let result = deadlinePassed(batch[index], waitLimit: waitLimit)
                recordLookup(ContinuousClock.now - started)
                answer(batch[index].key, result)
            }
        } : nil
        let concurrency = max(1, min(registry.maxConcurrentLookups ?? batch.count, batch.count))
        let work = Task {
            @Sendable func lookUp(_ index: Int) async {
                // The lookup's own duration, without the batch's earlier lookups it waited behind.
                let began = ContinuousClock.now
                guard let result = await lookUpWithRetries(batch[index], started: started, waitLimit: waitLimit, race: race),
                      race.claim(index) else { return }
                recordLookup(ContinuousClock.now - began)
                answer(batch[index].key, result)
            }
            if concurrency == 1 {
                // A registry that answers from memory (the file): no child task per device.
                for index in batch.indices where !Task.isCancelled { await lookUp(index) }
            } else {
                await withTaskGroup(of: Void.self) { group in
                    var next = 0
                    while next < concurrency {
                        let index = next
                        group.addTask { await lookUp(index) }
                        next += 1
                    }
                    while await group.next() != nil, next < batch.count {
                        let index = next
                        group.addTask { await lookUp(index) }
                        next += 1
                    }
                }
            }
            // Every device answered: the timer has nothing left to do.
            timer?.cancel()
        }
        race.attach(work: work)
    }

    /// Asks the registry, retrying with backoff while it is unavailable, and ends within
    /// REGISTRY_WAIT_SECONDS whatever the registry does: the record, else the stale record, else
    /// REGISTRY_UNAVAILABLE. A batch of one (`startLookups`), for a caller that can wait.
    func resolve(_ pending: PendingLookup) async -> Result<AuthCacheEntry, RejectReason> {
        await withCheckedContinuation { (continuation: CheckedContinuation<Result<AuthCacheEntry, RejectReason>, Never>) in
            startLookups([pending]) { _, result in continuation.resume(returning: result) }
        }
    }

    /// One device's lookup: retries with backoff while the registry is unavailable, until its own
    /// deadline (none left to wait for when it has a stale record or the outage's wait ran out).
    /// nil when the batch's deadline answered for it meanwhile: nothing of a late answer is kept,
    /// as if it had never come.
    private func lookUpWithRetries(
        _ pending: PendingLookup, started: ContinuousClock.Instant, waitLimit: Duration, race: LookupBatchRace
    ) async -> Result<AuthCacheEntry, RejectReason>? {
        let key = pending.key
        let deadline = started + (pending.mayWait ? waitLimit : .zero)
        let hardDeadline: ContinuousClock.Instant? = waitLimit > .zero ? started + waitLimit : nil
        var delay = Duration.milliseconds(configuration.retryBaseMilliseconds)
        while !race.hasExpired {
            let provisionSite = configuration.autoProvision ? pending.siteID : nil
            let answer = await coalescer.lookup(key, provisionSite: provisionSite)
            if race.hasExpired { return nil }
            switch answer {
            case let .success(outcome):
                endOutage()
                let now = clock.now()
                let ttl = UInt64(outcome.record == nil ? configuration.negativeTTLSeconds : configuration.ttlSeconds) * 1_000_000_000
                let entry = AuthCacheEntry(
                    record: outcome.record, verifiedToken: nil,
                    staleUntil: now &+ ttl &+ UInt64(configuration.staleSeconds) * 1_000_000_000)
                // A device just provisioned is not remembered as unknown: its next message finds it.
                if outcome.provisioned {
                    cache.withLock { _ = $0.remove(key) }
                } else {
                    cache.withLock { $0.put(key, entry, expiresAt: now &+ ttl) }
                }
                return .success(entry)
            case let .failure(error):
                beginOutage()
                if let stale = pending.stale { return .success(stale) }
                let now = ContinuousClock.now
                if now >= deadline || hardDeadline.map({ now >= $0 }) == true {
                    if pending.mayWait { outage.withLock { $0?.waitExhausted = true } }
                    return .failure(refuse(key, "\(error)"))
                }
                try? await Task.sleep(for: min(delay, now.duration(to: deadline)))
                delay = min(delay * 2, .milliseconds(configuration.retryMaxMilliseconds))
            }
        }
        return nil
    }

    /// The answer for a device the registry did not answer for within REGISTRY_WAIT_SECONDS: the
    /// registry counts as down; the stale record, else REGISTRY_UNAVAILABLE (and later misses of this
    /// outage wait no more).
    private func deadlinePassed(_ pending: PendingLookup, waitLimit: Duration) -> Result<AuthCacheEntry, RejectReason> {
        beginOutage()
        if let stale = pending.stale { return .success(stale) }
        if pending.mayWait { outage.withLock { $0?.waitExhausted = true } }
        return .failure(refuse(pending.key, "\(RegistryError.unavailable(reason: "no answer within \(waitLimit) (REGISTRY_WAIT_SECONDS)"))"))
    }
}
