import FabricSystem
import Testing

/// `Handoff` carries the dry-run's batches from the reading thread to the deciding one.
@Suite("Handoff between threads")
struct HandoffTests {
    /// One producer thread, one consumer: every element arrives, once, in order, the
    /// producer waiting on a full queue; after close the rest drains, then nil.
    @Test func everyElementArrivesInOrderThroughASmallQueue() throws {
        let queue = Handoff<Int>(capacity: 2)
        let count = 50_000
        let producer = try JoinableThread(name: "test-producer") {
            for value in 0..<count {
                // Both ways in: the one that hands a refused element back, then the one that waits.
                if let refused = queue.tryPut(value) { queue.put(refused) }
            }
            queue.close()
        }
        var received: [Int] = []
        while let value = queue.take() { received.append(value) }
        producer.join()
        #expect(received == Array(0..<count))
    }

    @Test func aFullQueueHandsBackAndAClosedOneDrains() {
        let queue = Handoff<String>(capacity: 1)
        #expect(queue.tryTake() == nil)
        #expect(queue.tryPut("a") == nil)
        #expect(queue.tryPut("b") == "b")
        queue.close()
        #expect(queue.take() == "a")
        #expect(queue.take() == nil)
    }

    @Test func theAffinityMaskCountsAtLeastOneCPU() {
        #expect(JoinableThread.allowedCPUs >= 1)
    }
}
