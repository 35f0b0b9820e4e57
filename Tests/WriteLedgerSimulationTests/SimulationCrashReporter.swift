#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Synchronization

/// The seed of the schedule being run, for a trap (a ledger precondition) that kills the test
/// process before XCTest can report: a signal handler prints the seed and the replay command.
let simulationCurrentSeed = Atomic<UInt64>(0)

enum SimulationCrashReporter {
    /// Installs handlers for the signals a Swift trap raises (SIGILL on x86_64, SIGTRAP on arm64).
    static func install() {
        for signalNumber in [SIGILL, SIGTRAP] {
            signal(signalNumber) { received in
                // Not async-signal-safe, but the process is dying anyway; the message is what matters.
                let seed = simulationCurrentSeed.load(ordering: .relaxed)
                let message = "simulation: schedule \(seed) trapped (a ledger precondition)\n"
                    + "replay: SIMULATION_SEED=\(seed) swift test --filter WriteLedgerSimulationTests\n"
                _ = message.withCString { write(2, $0, strlen($0)) }
                signal(received, SIG_DFL)
                raise(received)
            }
        }
    }
}
