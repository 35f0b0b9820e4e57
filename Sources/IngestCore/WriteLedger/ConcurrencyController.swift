/// How many writes may be in flight at once, adapted to what InfluxDB shows (README, "Throughput when
/// InfluxDB is slow"): additive increase while the limit is what holds throughput back, multiplicative
/// decrease on signs of overload. A pure value: the write ledger feeds it each write's start, end and
/// outcome on its own clock.
///
/// - **Slow start.** Until the first sign of overload the limit grows by two per successful write
///   that found work waiting for a slot (so it triples per round trip; TCP's slow start doubles): a
///   slow InfluxDB (InfluxDB 3 answers at its next WAL flush, up to a second) is worth many requests
///   at once, every round trip costs a second, and each database needs writes of its own. It ends at
///   the first write that takes well over the lowest latency seen (as HyStart ends TCP's).
/// - **Additive increase.** Afterwards +1 per window (as many successful writes as the limit: one
///   round trip's worth) in which work waited for a slot.
/// - **Multiplicative decrease.** Halved on 429, 502, 503, 504 or a write that got no answer
///   (timeout, connection error); ×1/2 to ×3/4, in proportion to the rise, when a window's mean
///   latency rises well above the baseline: the lowest window mean seen, let up by at most a tenth
///   per window. The lowest and not an average of recent ones, because a server short of CPU slows
///   down a little with every write added: an average follows that creep, and the limit climbed to
///   its maximum against a local influxd 1.x, which then spent more CPU per line juggling the writes
///   (README, "Benchmark"). A server that answers after a fixed delay whatever the load (InfluxDB 3's
///   WAL flush) never looks overloaded. Only a write started after the last decrease can decrease
///   again, so the writes that were in flight together count as one signal.
///
/// The limit stays in 1...`maximum`. `Retry-After` is not the controller's business: the failed batch
/// waits at least that long whatever the limit is.
public struct ConcurrencyController: Sendable, Equatable {
    public let maximum: Int
    public private(set) var limit: Int
    /// True until the first decrease.
    public private(set) var slowStart = true
    /// The lowest mean latency of past windows (ms), let up by at most ``baselineDrift`` per window;
    /// nil before the first window ended.
    public private(set) var baselineMilliseconds: Double?
    private var windowLatencySum: Double = 0
    private var windowWrites = 0
    /// The window ends after this many answered writes: the limit when it began.
    private var windowLength: Int
    /// Work waited for a slot since the window began: the limit, not the load, held throughput back.
    private var limitedSinceWindowStart = false
    /// The lowest latency of any one write (ms): slow start's reference before the first window ends.
    private var lowestWriteMilliseconds = Double.infinity
    /// When the limit last went down (nil before the first decrease).
    public private(set) var lastDecreaseAt: Int64?

    /// A window's mean latency this much above the baseline (×, plus a few ms so jitter on a fast
    /// local InfluxDB is not "rising") counts as overload.
    static let risingFactor = 1.5
    static let risingSlackMilliseconds = 5.0
    /// Added per answered write in slow start.
    static let slowStartStep = 2
    /// How much the baseline may rise per window, so a lasting change (a farther InfluxDB, batches that
    /// stay bigger) becomes the new normal after a few dozen windows and the limit comes back up.
    static let baselineDrift = 1.1

    /// What a write's outcome says about InfluxDB's load.
    public enum Signal: Sendable, Equatable {
        /// Answered: its latency counts.
        case answered
        /// 429, 502, 503, 504, a timeout or no connection: too much, or nobody there.
        case overloaded
        /// Says nothing about load (401, 403, 404, other 5xx).
        case neutral
    }

    public init(initial: Int, maximum: Int) {
        self.maximum = max(1, maximum)
        self.limit = min(max(1, initial), self.maximum)
        self.windowLength = limit
    }

    public static func signal(of outcome: WriteOutcome) -> Signal {
        switch outcome {
        case .written, .refused: .answered
        case .retryable(let status, _, _):
            switch status {
            case nil, 429?, 502?, 503?, 504?: .overloaded
            default: .neutral
            }
        }
    }

    /// Work is waiting for a slot while every slot is taken.
    public mutating func limitReached() {
        limitedSinceWindowStart = true
    }

    /// A write started at `startedAt` (ledger time, ms) finished at `now`.
    public mutating func writeFinished(startedAt: Int64, now: Int64, signal: Signal) {
        switch signal {
        case .neutral:
            return
        case .overloaded:
            decrease(by: 0.5, startedAt: startedAt, now: now)
        case .answered:
            let latency = Double(max(0, now - startedAt))
            lowestWriteMilliseconds = min(lowestWriteMilliseconds, latency)
            let reference = baselineMilliseconds ?? lowestWriteMilliseconds
            if slowStart && latency > tolerated(above: reference) {
                // Slow start ends at the first write that took well over the lowest latency, not a
                // window later: a window is as many writes as the limit, and slow start would go on
                // adding two per write meanwhile (HyStart ends TCP's slow start on delay the same way).
                decrease(by: proportion(latency, above: reference), startedAt: startedAt, now: now)
                return
            }
            windowLatencySum += latency
            windowWrites += 1
            if slowStart && limitedSinceWindowStart { limit = min(maximum, limit + Self.slowStartStep) }
            guard windowWrites >= windowLength else { return }
            let mean = windowLatencySum / Double(windowWrites)
            if let baseline = baselineMilliseconds, mean > tolerated(above: baseline) {
                decrease(by: proportion(mean, above: baseline), startedAt: startedAt, now: now)
            } else if !slowStart && limitedSinceWindowStart {
                limit = min(maximum, limit + 1)
            }
            // The lowest latency seen, let up slowly: a lasting change becomes the new normal, so one
            // rise lowers the limit a few times, not forever.
            baselineMilliseconds = baselineMilliseconds.map { min(mean, $0 * Self.baselineDrift) } ?? mean
            startWindow()
        }
    }

    /// The most latency that does not count as rising, against `baseline`.
    func tolerated(above baseline: Double) -> Double {
        baseline * Self.risingFactor + Self.risingSlackMilliseconds
    }

    /// How far a rise lowers the limit: in proportion (a latency twice what is tolerated halves it),
    /// between ×1/2 and ×3/4, so a limit that slow start took far past what the server can take comes
    /// back in a few round trips, not a dozen.
    func proportion(_ latency: Double, above baseline: Double) -> Double {
        min(0.75, max(0.5, tolerated(above: baseline) / latency))
    }

    /// Lowers the limit unless the write began before the last decrease.
    private mutating func decrease(by factor: Double, startedAt: Int64, now: Int64) {
        if let last = lastDecreaseAt, startedAt < last { return }
        limit = max(1, Int((Double(limit) * factor).rounded(.down)))
        slowStart = false
        lastDecreaseAt = now
        startWindow()
    }

    private mutating func startWindow() {
        windowLatencySum = 0
        windowWrites = 0
        windowLength = limit
        limitedSinceWindowStart = false
    }
}
