import IngestCore
import XCTest

final class LookupWaitingRoomTests: XCTestCase {
    let a = DeviceKey(tenantID: "acme", deviceID: "a")
    let b = DeviceKey(tenantID: "acme", deviceID: "b")
    let c = DeviceKey(tenantID: "other", deviceID: "a")

    func makeRoom(_ maxMessages: Int, _ maxBytes: Int) -> LookupWaitingRoom<Int> {
        LookupWaitingRoom(limits: .init(maxMessages: maxMessages, maxBytes: maxBytes))
    }

    func testFirstMessageStartsALookupLaterOnesWaitBehindIt() {
        var room = makeRoom(10, 1000)
        XCTAssertTrue(room.isEmpty)
        XCTAssertFalse(room.isWaiting(a))
        XCTAssertEqual(room.admit(1, of: a, bytes: 10), .startLookup)
        XCTAssertTrue(room.isWaiting(a))
        XCTAssertFalse(room.isWaiting(b))
        XCTAssertFalse(room.isWaiting(c), "same device id in another tenant is another device")
        XCTAssertEqual(room.admit(2, of: a, bytes: 10), .waitBehind)
        XCTAssertEqual(room.admit(3, of: b, bytes: 10), .startLookup)
        XCTAssertEqual(room.admit(4, of: a, bytes: 10), .waitBehind)
        XCTAssertEqual(room.admit(5, of: c, bytes: 10), .startLookup)
        XCTAssertEqual(room.count, 5)
        XCTAssertEqual(room.bytes, 50)
        XCTAssertEqual(room.lookupsRunning, 3)
    }

    func testReleaseHandsBackOneDevicesMessagesInArrivalOrder() {
        var room = makeRoom(10, 1000)
        _ = room.admit(1, of: a, bytes: 10)
        _ = room.admit(2, of: b, bytes: 20)
        _ = room.admit(3, of: a, bytes: 30)
        _ = room.admit(4, of: a, bytes: 40)
        XCTAssertEqual(room.release(a), [1, 3, 4])
        XCTAssertFalse(room.isWaiting(a))
        XCTAssertTrue(room.isWaiting(b))
        XCTAssertEqual(room.count, 1)
        XCTAssertEqual(room.bytes, 20)
        XCTAssertEqual(room.lookupsRunning, 1)
        XCTAssertEqual(room.release(a), [], "a device with nothing waiting releases nothing")
        XCTAssertEqual(room.release(b), [2])
        XCTAssertTrue(room.isEmpty)
        XCTAssertEqual(room.bytes, 0)
        XCTAssertEqual(room.lookupsRunning, 0)
        // After its release a device starts a new lookup again.
        XCTAssertEqual(room.admit(5, of: a, bytes: 10), .startLookup)
    }

    func testCountBoundIsExactAndAFullRoomAdmitsNothing() {
        var room = makeRoom(3, 1000)
        XCTAssertEqual(room.admit(1, of: a, bytes: 1), .startLookup)
        XCTAssertEqual(room.admit(2, of: a, bytes: 1), .waitBehind)
        XCTAssertEqual(room.admit(3, of: b, bytes: 1), .startLookup)
        XCTAssertFalse(room.hasRoom(forBytes: 0))
        XCTAssertEqual(room.admit(4, of: a, bytes: 1), .full, "full also for a device already waiting")
        XCTAssertEqual(room.admit(5, of: c, bytes: 1), .full)
        XCTAssertEqual(room.count, 3)
        XCTAssertEqual(room.bytes, 3)
        XCTAssertFalse(room.isWaiting(c), "a refused admission leaves no trace")
        XCTAssertEqual(room.release(b), [3])
        XCTAssertEqual(room.admit(4, of: a, bytes: 1), .waitBehind)
        XCTAssertEqual(room.release(a), [1, 2, 4])
    }

    func testByteBoundCountsPayloadBytesInclusively() {
        var room = makeRoom(100, 100)
        XCTAssertEqual(room.admit(1, of: a, bytes: 60), .startLookup)
        XCTAssertTrue(room.hasRoom(forBytes: 40))
        XCTAssertFalse(room.hasRoom(forBytes: 41))
        XCTAssertEqual(room.admit(2, of: b, bytes: 41), .full)
        XCTAssertEqual(room.admit(2, of: b, bytes: 40), .startLookup)
        XCTAssertEqual(room.bytes, 100)
        XCTAssertEqual(room.admit(3, of: a, bytes: 0), .waitBehind, "an empty payload still fits at the byte bound")
        XCTAssertEqual(room.admit(4, of: a, bytes: 1), .full)
        _ = room.release(a)
        XCTAssertEqual(room.bytes, 40)
        XCTAssertEqual(room.admit(4, of: a, bytes: 60), .startLookup)
    }

    func testAnEmptyRoomAdmitsOneMessageLargerThanTheByteBound() {
        var room = makeRoom(10, 100)
        XCTAssertTrue(room.hasRoom(forBytes: 1000))
        XCTAssertEqual(room.admit(1, of: a, bytes: 1000), .startLookup)
        XCTAssertEqual(room.admit(2, of: a, bytes: 1), .full, "beyond the bound nothing else is admitted")
        XCTAssertEqual(room.release(a), [1])
        XCTAssertEqual(room.admit(2, of: a, bytes: 1), .startLookup)
    }

    func testOneMessageRoom() {
        var room = makeRoom(1, 0)
        XCTAssertEqual(room.admit(1, of: a, bytes: 5), .startLookup)
        XCTAssertEqual(room.admit(2, of: a, bytes: 0), .full)
        XCTAssertEqual(room.admit(3, of: b, bytes: 0), .full)
        XCTAssertEqual(room.release(a), [1])
        XCTAssertEqual(room.admit(3, of: b, bytes: 0), .startLookup)
    }

    /// Random admissions and releases against a plain model (one list in arrival order): every
    /// release gives exactly the device's admitted messages in order, nothing is lost or duplicated,
    /// the bounds hold, and `.full` is answered exactly when the message does not fit.
    func testRandomizedAgainstAModel() {
        var random = SplitMix64(seed: 12)
        let devices = (0..<5).map { DeviceKey(tenantID: "t\($0 % 2)", deviceID: "d\($0)") }
        for round in 0..<200 {
            let maxMessages = Int.random(in: 1...8, using: &random)
            let maxBytes = Int.random(in: 0...80, using: &random)
            var room = makeRoom(maxMessages, maxBytes)
            var model: [(key: DeviceKey, message: Int, bytes: Int)] = []
            var admitted = 0
            var released = 0
            for step in 0..<300 {
                let key = devices[Int.random(in: 0..<devices.count, using: &random)]
                if Bool.random(using: &random) {
                    let size = Int.random(in: 0...30, using: &random)
                    let message = round * 1000 + step
                    let fits = model.isEmpty
                        || (model.count < maxMessages && model.reduce(0) { $0 + $1.bytes } + size <= maxBytes)
                    let wasWaiting = model.contains { $0.key == key }
                    XCTAssertEqual(room.isWaiting(key), wasWaiting)
                    let admission = room.admit(message, of: key, bytes: size)
                    switch admission {
                    case .full: XCTAssertFalse(fits)
                    case .startLookup: XCTAssertTrue(fits && !wasWaiting)
                    case .waitBehind: XCTAssertTrue(fits && wasWaiting)
                    }
                    if admission != .full {
                        model.append((key, message, size))
                        admitted += 1
                    }
                } else {
                    let expected = model.filter { $0.key == key }.map(\.message)
                    model.removeAll { $0.key == key }
                    let got = room.release(key)
                    XCTAssertEqual(got, expected)
                    released += got.count
                }
                XCTAssertEqual(room.count, model.count)
                XCTAssertEqual(room.bytes, model.reduce(0) { $0 + $1.bytes })
                XCTAssertEqual(room.lookupsRunning, Set(model.map(\.key)).count)
                XCTAssertTrue(room.count <= maxMessages)
                XCTAssertTrue(room.count <= 1 || room.bytes <= maxBytes)
            }
            for key in devices { released += room.release(key).count }
            XCTAssertEqual(released, admitted, "every admitted message is released exactly once")
            XCTAssertTrue(room.isEmpty)
        }
    }
}
