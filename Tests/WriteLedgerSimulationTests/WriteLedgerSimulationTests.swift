import Foundation
import IngestCore
import XCTest

/// Deterministic simulation of the write ledger (README, "How the write path works"): thousands of
/// seeded schedules of faults, crashes and recoveries, each checked against the invariants.
///
/// `SIMULATION_SCHEDULES=1000000` runs a long soak; `SIMULATION_SEED=<seed>` replays one schedule.
final class WriteLedgerSimulationTests: XCTestCase {
    func testEverySchedulePreservesTheInvariants() {
        let environment = ProcessInfo.processInfo.environment
        let seeds: [UInt64]
        if let seed = environment["SIMULATION_SEED"].flatMap({ UInt64($0) }) {
            seeds = [seed]
        } else {
            let count = environment["SIMULATION_SCHEDULES"].flatMap { Int($0) } ?? 10_000
            let base = environment["SIMULATION_BASE_SEED"].flatMap { UInt64($0) } ?? 0x1D6E_57D0
            seeds = (0..<UInt64(count)).map { base &+ $0 }
        }
        var faults = 0
        var failures = 0
        SimulationCrashReporter.install()
        for seed in seeds {
            simulationCurrentSeed.store(seed, ordering: .relaxed)
            var schedule = SimulationSchedule(seed: seed)
            schedule.run()
            faults += schedule.faultsInjected
            if !schedule.violations.isEmpty {
                failures += 1
                if failures <= 5 {
                    XCTFail("""
                        schedule \(seed) broke an invariant: \(schedule.violations.prefix(3).joined(separator: "; "))
                        replay: SIMULATION_SEED=\(seed) swift test --filter WriteLedgerSimulationTests
                        """)
                }
            }
        }
        print("simulation: \(seeds.count) schedules, \(faults) faults injected, \(failures) invariant violations")
    }
}
