import Foundation
import IngestCore
@testable import IngestService
import Synchronization
import TestSupport
import XCTest

/// The line numbers and safe marks the MQTT acknowledgements wait for (README "Durability modes").
final class LineSequencerTests: XCTestCase {
    func testTheInMemorySequencerNumbersLinesOneAfterAnother() throws {
        let sequencer = MemoryLineSequencer()
        XCTAssertEqual(try sequencer.sequence(database: "a", lines: Array("x v=1i 1\ny v=2i 2\n".utf8), lineCount: 2), 1...2)
        XCTAssertEqual(try sequencer.sequence(database: "b", lines: Array("z v=3i 3\n".utf8), lineCount: 1), 3...3)
        XCTAssertThrowsError(try sequencer.sequence(database: "b", lines: [], lineCount: 0))
    }

    /// A sync returns its mark: every line appended before it is on disk, so its messages may be
    /// acknowledged (DURABILITY=journal).
    func testAJournalSyncReturnsTheMarkItMadeSafe() throws {
        let temporary = try TemporaryDirectory(prefix: "journal-mark")
        defer { temporary.remove() }
        let journal = try CrashJournal(directory: temporary.path + "/journal", logger: SpoolTestLog().logger)
        XCTAssertEqual(try journal.sequence(database: "db", lines: Array("a v=1i 1\nb v=2i 2\n".utf8), lineCount: 2), 1...2)
        XCTAssertEqual(try journal.sync(), 2)
        XCTAssertEqual(try journal.sequence(database: "db", lines: Array("c v=3i 3\n".utf8), lineCount: 1), 3...3)
        journal.acknowledge(upTo: 3)  // safe elsewhere before it was synced: not written, still safe
        XCTAssertEqual(try journal.sync(), 3)
        XCTAssertEqual(try journal.sync(), 3, "nothing new")
    }

    func testObserversAllHearTheMark() {
        final class Recorder: SafeSequenceObserver {
            let marks = Mutex<[UInt64]>([])
            func acknowledge(upTo sequence: UInt64) { marks.withLock { $0.append(sequence) } }
        }
        let first = Recorder(), second = Recorder()
        SafeSequenceObservers([first, second]).acknowledge(upTo: 7)
        XCTAssertEqual(first.marks.withLock { $0 }, [7])
        XCTAssertEqual(second.marks.withLock { $0 }, [7])
    }
}
