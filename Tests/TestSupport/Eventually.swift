import Foundation

public struct TimedOut: Error, CustomStringConvertible {
    public let what: String
    public let seconds: Double
    public var description: String { "timed out after \(seconds) s waiting for: \(what)" }
}

/// Polls `condition` until it holds or `timeout` passes. Tests wait for conditions, never for fixed
/// sleeps: the machine is shared and slow moments are normal, so timeouts are generous.
public func eventually(
    _ what: String,
    timeout: Double = 60,
    every interval: Double = 0.05,
    _ condition: () async throws -> Bool
) async throws {
    let deadline = Date().addingTimeInterval(timeout)
    while true {
        if try await condition() { return }
        if Date() >= deadline { throw TimedOut(what: what, seconds: timeout) }
        try await Task.sleep(nanoseconds: UInt64(interval * 1_000_000_000))
    }
}
