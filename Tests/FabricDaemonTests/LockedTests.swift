import FabricSystem
import Foundation
import Testing

/// The daemon's shared state sits behind `Locked`. Two threads writing and one
/// reading at once: every write is kept, and under the thread sanitizer (CI's
/// TSan step) the lock's ordering is seen, so no access is reported as a race.
/// With `Synchronization.Mutex` in its place this test drew reports every run.
@Suite("Locked values")
struct LockedTests {
    @Test func writersAndAReaderMeetOnlyUnderTheLock() {
        struct Pair { var small = 0, large = 0 }
        let pair = Locked(Pair())
        let writes = 20_000
        let done = DispatchSemaphore(value: 0)
        for _ in 0..<2 {
            Thread {
                for _ in 0..<writes { pair.withLock { $0.small += 1; $0.large += 2 } }
                done.signal()
            }.start()
        }
        var torn = 0
        for _ in 0..<writes where pair.withLock({ $0.large != 2 * $0.small }) { torn += 1 }
        done.wait()
        done.wait()
        #expect(torn == 0)
        #expect(pair.withLock { ($0.small, $0.large) } == (2 * writes, 4 * writes))
    }
}
