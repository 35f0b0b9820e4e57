import IngestCore

// The clocks of the two MQTT loops (IngestCore/Clock), and a duration as log text.

/// Heartbeat activity stamps: read per message and per loop turn, so the coarse clock.
let loopActivityClock = CoarseMonotonicClock()
/// A message's receive time.
let loopWallClock = SystemWallClock()

func formatSeconds(_ d: Duration) -> String {
    let s = d.seconds
    return String(Double(Int(s * 10)) / 10)
}
