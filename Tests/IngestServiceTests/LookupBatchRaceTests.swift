@testable import IngestService
import XCTest

final class LookupBatchRaceTests: XCTestCase {
    func testEachDeviceIsClaimedOnceAndTheDeadlineClaimsTheRest() {
        let race = LookupBatchRace(count: 4)
        XCTAssertTrue(race.claim(1))
        XCTAssertFalse(race.claim(1), "an answered device is not answered again")
        XCTAssertFalse(race.hasExpired)
        XCTAssertEqual(race.expire(), [0, 2, 3])
        XCTAssertTrue(race.hasExpired)
        XCTAssertFalse(race.claim(0), "the deadline answered for it")
        XCTAssertEqual(race.expire(), [], "nothing is answered twice")
    }

    func testTheDeadlineCancelsTheLookupsWhetherTheyAreAttachedBeforeOrAfterIt() async {
        let before = LookupBatchRace(count: 1)
        let running = Task<Void, Never> { try? await Task.sleep(for: .seconds(3600)) }
        before.attach(work: running)
        _ = before.expire()
        XCTAssertTrue(running.isCancelled)

        let after = LookupBatchRace(count: 1)
        _ = after.expire()
        let late = Task<Void, Never> { try? await Task.sleep(for: .seconds(3600)) }
        after.attach(work: late)
        XCTAssertTrue(late.isCancelled)
        await running.value
        await late.value
    }
}
