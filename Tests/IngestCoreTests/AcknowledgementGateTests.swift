import XCTest
@testable import IngestCore

/// The order and the safety of acknowledgements with DURABILITY=journal/broker, without I/O.
final class AcknowledgementGateTests: XCTestCase {
    func testNothingIsReleasedBeforeItsLinesAreSafe() {
        var gate = AcknowledgementGate()
        XCTAssertFalse(gate.decide([0, 1, 2], .safe(upTo: 30)))
        XCTAssertEqual(gate.released, 0)
        XCTAssertFalse(gate.safe(upTo: 29))
        XCTAssertEqual(gate.released, 0)
        XCTAssertTrue(gate.safe(upTo: 30))
        XCTAssertEqual(gate.released, 3)
        XCTAssertEqual(gate.waiting, 0)
    }

    func testARejectedMessageIsReleasedAtOnceInItsTurn() {
        var gate = AcknowledgementGate()
        XCTAssertTrue(gate.decide(0, .nothing))
        XCTAssertEqual(gate.released, 1)
        gate.decide(1, .safe(upTo: 5))
        XCTAssertFalse(gate.decide(2, .nothing), "a rejected message waits behind an unsafe one")
        XCTAssertEqual(gate.released, 1)
        gate.safe(upTo: 5)
        XCTAssertEqual(gate.released, 3)
    }

    func testAnUndecidedMessageHoldsBackLaterOnes() {
        // Message 1 waits for its registry lookup; 0 and 2…4 are decided and safe.
        var gate = AcknowledgementGate()
        gate.decide([0, 2, 3, 4], .safe(upTo: 10))
        gate.safe(upTo: 10)
        XCTAssertEqual(gate.released, 1)
        XCTAssertEqual(gate.waiting, 4)
        // Its lookup answered: its lines went out in a later round, with later numbers.
        gate.decide(1, .safe(upTo: 20))
        XCTAssertEqual(gate.released, 1)
        gate.safe(upTo: 20)
        XCTAssertEqual(gate.released, 5)
    }

    func testOutOfOrderCompletionAcrossDatabases() {
        // Round 1: tenant a's lines 1…3, tenant b's 4…6; each message waits for the round's highest.
        // The writer writes b before a: its low-water mark stays at 0 until a is written too.
        var gate = AcknowledgementGate()
        gate.decide([0, 1, 2, 3, 4, 5], .safe(upTo: 6))
        gate.decide([6, 7], .safe(upTo: 8))
        XCTAssertFalse(gate.safe(upTo: 0))
        XCTAssertTrue(gate.safe(upTo: 8))
        XCTAssertEqual(gate.released, 8)
    }

    func testAMarkThatGoesBackChangesNothing() {
        var gate = AcknowledgementGate()
        gate.safe(upTo: 10)
        XCTAssertFalse(gate.safe(upTo: 4))
        XCTAssertEqual(gate.safeMark, 10)
        XCTAssertTrue(gate.decide(0, .safe(upTo: 10)), "already safe when decided")
        XCTAssertFalse(gate.decide(1, .safe(upTo: 11)))
    }

    func testStorageIsCompactedOnALongRunWithAHoldOut() {
        var gate = AcknowledgementGate()
        gate.decide(0, .safe(upTo: 1))
        for number in UInt64(1)..<20_000 { gate.decide(number, .nothing) }
        XCTAssertEqual(gate.released, 0)
        gate.safe(upTo: 1)
        XCTAssertEqual(gate.released, 20_000)
        for number in UInt64(20_000)..<40_000 { gate.decide(number, .nothing) }
        XCTAssertEqual(gate.released, 40_000)
        XCTAssertEqual(gate.waiting, 0)
    }

    /// Random schedules against a model: messages decided in a random order (registry waits), in
    /// rounds whose sequence numbers grow, with the safe mark growing in random steps. At every step
    /// the gate releases exactly the longest prefix of decided, safe messages, never more.
    func testRandomSchedulesAgainstAModel() {
        var random = SplitMix64(seed: 0x5EED_AC4)
        for _ in 0..<500 {
            var gate = AcknowledgementGate()
            let count = Int(random.next() % 200) + 1
            var requirement: [AcknowledgementGate.Requirement?] = Array(repeating: nil, count: count)
            var undecided = Array(0..<count)
            var nextSequence: UInt64 = 1
            var safeMark: UInt64 = 0
            var previousReleased: UInt64 = 0
            while !undecided.isEmpty || gate.released < UInt64(count) {
                switch random.next() % 3 {
                case 0 where !undecided.isEmpty:
                    // A round: a few undecided messages (any of them) get lines or are rejected.
                    let take = min(undecided.count, Int(random.next() % 8) + 1)
                    var round: [UInt64] = []
                    for _ in 0..<take {
                        let index = Int(random.next() % UInt64(undecided.count))
                        round.append(UInt64(undecided.remove(at: index)))
                    }
                    let lines = random.next() % 4
                    let decision: AcknowledgementGate.Requirement
                    if lines == 0 {
                        decision = .nothing
                    } else {
                        nextSequence += lines
                        decision = .safe(upTo: nextSequence - 1)
                    }
                    for number in round { requirement[Int(number)] = decision }
                    gate.decide(round, decision)
                default:
                    if safeMark < nextSequence - 1 {
                        safeMark += random.next() % (nextSequence - 1 - safeMark) + 1
                    } else if undecided.isEmpty {
                        safeMark = nextSequence
                    }
                    gate.safe(upTo: safeMark)
                }
                var expected: UInt64 = 0
                while expected < UInt64(count), let needs = requirement[Int(expected)] {
                    if case .safe(let sequence) = needs, sequence > safeMark { break }
                    expected += 1
                }
                XCTAssertEqual(gate.released, expected)
                XCTAssertGreaterThanOrEqual(gate.released, previousReleased)
                previousReleased = gate.released
                if gate.released != expected { return }
            }
        }
    }
}

final class AcknowledgementCursorTests: XCTestCase {
    func testReleasesOnlyTheCurrentConnectionsMessages() {
        var cursor = AcknowledgementCursor()
        cursor.connectionOpened()
        cursor.handedOn(5)  // messages 0…4
        XCTAssertEqual(cursor.take(released: 2), 2)
        XCTAssertEqual(cursor.take(released: 2), 0)
        XCTAssertEqual(cursor.outstanding, 3)
        // The connection drops: 2…4 stay in the pipeline, the broker delivers them again.
        cursor.connectionOpened()
        XCTAssertEqual(cursor.outstanding, 0)
        cursor.handedOn(3)  // messages 5…7, the redeliveries
        XCTAssertEqual(cursor.take(released: 5), 0, "messages of the earlier connection are not acknowledged on this one")
        XCTAssertEqual(cursor.take(released: 7), 2)
        XCTAssertEqual(cursor.take(released: 100), 1, "never more than was handed on")
        XCTAssertEqual(cursor.outstanding, 0)
    }
}
