import FabricABI
import FabricSystem

/// `DryRun` over two threads, for `dry-run`'s reading of a whole capture: the caller
/// reads and parses frames (`submit`), a worker thread decides and counts them in
/// batches. Whenever the worker is behind by a full queue, the caller decides the
/// batch in hand itself before handing it over, so both CPUs stay busy whichever side
/// is slower (reading a capture through libpcap costs about as much per frame as a
/// decision does). Frames are counted by one thread in the order read, so the report
/// is the one `DryRun` gives for the same frames: its flow table, the flows' first
/// and last times and the flow limit all depend on that order.
///
/// With one CPU (the affinity mask's count), or when no thread can be started, the
/// caller does all of it inline, as `DryRun.submit` does.
///
/// A noncopyable struct, not a class: the caller's state changes at every frame, and
/// a class's stored properties pay a dynamic exclusivity check at every access (as a
/// class, `swift_beginAccess` and its kin took 5 % of the bench run's samples, and the
/// run was 17 % longer).
public struct DryRunPipeline: ~Copyable {
    /// A handoff costs a lock and often a wakeup (microseconds): over 1024 frames that
    /// is a few nanoseconds a frame, and a batch (112 KB) still sits in the second-level cache.
    static let defaultHandoffFrames = 1024

    struct Batch: Sendable {
        var frames: [DryRun.Pending]
        /// Decided by the caller (the worker was behind): the worker only counts it.
        var decided: Bool
    }

    /// The counting half of the dry-run: the worker's alone from its start to its join,
    /// which orders every write before the caller's read (`finish`).
    private final class Tally: @unchecked Sendable {
        var dryRun: DryRun
        init(_ dryRun: DryRun) { self.dryRun = dryRun }
    }

    private var intake: DryRun.Intake
    /// The caller's own copy, for the batches it decides: `tally.dryRun.datapath` is the
    /// worker's to touch until the join.
    private let datapath: ReferenceDatapath
    private let tally: Tally
    private let handoffFrames: Int
    private var batch: [DryRun.Pending] = []
    /// Batches for the worker, oldest first.
    private let full: Handoff<Batch>
    /// Emptied batches back from the worker, so their storage is reused.
    private let empty: Handoff<[DryRun.Pending]>
    private var worker: JoinableThread?

    /// `threads`: decide on a second thread (by default when the affinity mask allows
    /// two CPUs); false decides and counts on the caller's thread only.
    public init(datapath: ReferenceDatapath, interfaceNames: [UInt32: String], threads: Bool = DryRunPipeline.hasSecondCPU) {
        self.init(datapath: datapath, interfaceNames: interfaceNames, threads: threads, handoffFrames: Self.defaultHandoffFrames, queued: 2)
    }

    /// `handoffFrames` and `queued` (batches waiting for the worker before the caller
    /// decides one itself) are the tests' to change.
    init(datapath: ReferenceDatapath, interfaceNames: [UInt32: String], threads: Bool, handoffFrames: Int, queued: Int) {
        let dryRun = DryRun(datapath: datapath, interfaceNames: interfaceNames)
        intake = dryRun.intake
        self.datapath = datapath
        tally = Tally(dryRun)
        self.handoffFrames = handoffFrames
        full = Handoff(capacity: queued)
        empty = Handoff(capacity: queued + 2)
        batch.reserveCapacity(handoffFrames)
        guard threads else { return }
        // No thread (EAGAIN under a task limit): the same work, inline. Slower, never wrong.
        worker = try? JoinableThread(name: "fg-dry-run") { [full, empty, tally] in
            while var next = full.take() {
                tally.dryRun.decideAndCount(&next.frames, decided: next.decided)
                next.frames.removeAll(keepingCapacity: true)
                // A spare for the caller; dropped when enough are waiting.
                _ = empty.tryPut(next.frames)
            }
        }
    }

    /// A reader that stops early (a corrupt capture) leaves no thread behind.
    deinit {
        full.close()
        worker?.join()
    }

    /// Whether this process may run on two CPUs or more, where a second thread pays.
    public static var hasSecondCPU: Bool { JoinableThread.allowedCPUs > 1 }

    /// `DryRun.submit`: the frame is parsed now (its bytes need to live only during the call).
    public mutating func submit(
        frame: UnsafeRawBufferPointer, wireLength: Int, ifindex: UInt32?, direction: Direction, time: DryRun.Timestamp,
        truncated: Bool = false
    ) {
        guard let admitted = intake.admit(
            frame: frame, wireLength: wireLength, ifindex: ifindex, direction: direction, time: time, truncated: truncated)
        else { return }
        batch.append(admitted)
        if batch.count == handoffFrames { handOff() }
    }

    /// Every frame submitted, decided and counted: the dry-run to report from.
    public consuming func finish() -> DryRun {
        if !batch.isEmpty { handOff() }
        full.close()
        worker?.join()
        var dryRun = tally.dryRun
        dryRun.intake = intake
        return dryRun
    }

    private mutating func handOff() {
        guard worker != nil else {
            let tally = tally  // a reference of its own, not a read of self beside the write to batch
            tally.dryRun.decideAndCount(&batch)
            batch.removeAll(keepingCapacity: true)
            return
        }
        var next = Batch(frames: batch, decided: false)
        batch = empty.tryTake() ?? []
        batch.reserveCapacity(handoffFrames)
        if let refused = full.tryPut(next) {
            // The worker is behind: this CPU decides, and waits only if it is still behind then.
            next = refused
            DryRun.decide(&next.frames, with: datapath)
            next.decided = true
            full.put(next)
        }
    }
}
