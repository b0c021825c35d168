import CFabricABI
import FabricABI
import FabricBPF
import FabricCompiler
import FabricNetlink
import FabricSystem
import Foundation

/// The real datapath: the embedded BPF object through libbpf, its maps pinned
/// under `pinDirectory/maps`, XDP and tcx links under `pinDirectory/links`
/// (clsact filters need no pin: the qdisc holds them). Everything an instance owns lives in
/// its pin directory, so instances in different network namespaces never meet.
public final class LinuxDatapath: Datapath {
    public let pinDirectory: String
    /// This instance's tc filter, derived from the pin directory.
    public let tcFilter: TCFilter
    private var object: ProgramSet?
    /// Loaded by `loadPrograms`, for the next `prepare`.
    private var preloaded: ProgramSet?
    private var openedMaps: [String: BPFMap] = [:]

    public init(pinDirectory: String) {
        self.pinDirectory = pinDirectory
        tcFilter = TCFilter.forPinDirectory(pinDirectory)
    }

    var mapsDirectory: String { "\(pinDirectory)/maps" }
    var linksDirectory: String { "\(pinDirectory)/links" }

    public func isInstalled() throws -> Bool {
        let path = "\(mapsDirectory)/\(FG_MAP_STATE)"
        if access(path, F_OK) == 0 { return true }
        // Absent is "nothing applied"; unreadable (EACCES, a missing capability) is not.
        let code = SystemError.lastErrno
        guard code == ENOENT || code == ENOTDIR else { throw SystemError(verb: "read pin", object: path, errno: code) }
        return false
    }

    public func loadPrograms() throws {
        if preloaded == nil { preloaded = try Self.loadObject(adoptingPinsIn: mapsDirectory) }
    }

    public func prepare() throws {
        // A long-lived owner (the daemon) loads the programs once and attaches
        // them to every interface that appears later, without verifying again.
        if object != nil { return }
        try PrivateDirectory.make(mapsDirectory)
        try PrivateDirectory.make(linksDirectory)
        let object = try preloaded ?? Self.loadObject(adoptingPinsIn: mapsDirectory)
        preloaded = nil
        try object.pinMaps(in: mapsDirectory)
        self.object = object
        openedMaps = [:]
    }

    /// The embedded object, with the maps pinned in `directory` adopted and its
    /// programs loaded (the verifier's part, in parallel), nothing pinned or attached.
    private static func loadObject(adoptingPinsIn directory: String) throws -> ProgramSet {
        try ProgramSet(names: [FG_PROG_TC_EGRESS, FG_PROG_TC_INGRESS, FG_PROG_XDP_INGRESS], adoptingPinsIn: directory) { object throws(SystemError) in
            // A binary and an object that disagree on the ABI must never meet the kernel.
            let built = try object.constant(FG_RODATA_ABI_VERSION)
            guard built == UInt32(FG_ABI_VERSION) else {
                throw SystemError(
                    verb: "load", object: "embedded BPF object", errno: 0,
                    detail: "it was built for ABI \(built), this binary speaks ABI \(FG_ABI_VERSION)")
            }
        }
    }

    public func prepareMapsOnly() throws {
        // Programs loaded earlier in this process stay loaded: their maps are the pinned ones.
        openedMaps = [:]
    }

    public var programIdentity: String { LinuxDatapath.embeddedIdentity }

    /// The embedded object's SHA-256: any rebuild that changes the programs changes it.
    static let embeddedIdentity = Digest.text(Digest.sha256(EmbeddedObject.fabricguard))

    /// A map of the loaded object, else the pinned one (status, stats and unload do not load).
    func map(_ name: String) throws -> BPFMap {
        if let object { return try object.map(name) }
        if let map = openedMaps[name] { return map }
        let map = try BPFMap.pinned(at: "\(mapsDirectory)/\(name)", name: name)
        openedMaps[name] = map
        return map
    }

    /// The map, or nil when it was never pinned: a first apply killed while it
    /// pinned the maps one by one leaves some without the others.
    func mapIfPinned(_ name: String) throws -> BPFMap? {
        do {
            return try map(name)
        } catch let error as SystemError where error.errno == ENOENT && object == nil {
            return nil
        }
    }

    func program(_ name: String) throws -> BPFProgram {
        guard let object else {
            throw SystemError(verb: "attach", object: name, errno: EINVAL, detail: "the programs are not loaded (prepare first)")
        }
        return try object.program(name)
    }

    // MARK: Policy state

    public func generation() throws -> GenerationState? {
        guard let state = try mapIfPinned(FG_MAP_STATE)?.lookup(key: UInt32(0), as: fg_state.self) else { return nil }
        let digest = withUnsafeBytes(of: state.digest) { Array($0) }
        return GenerationState(generation: state.generation, activeBank: state.active_bank, digest: digest)
    }

    public func activate(_ state: GenerationState) throws {
        var value = fg_state()
        value.generation = state.generation
        value.active_bank = state.activeBank
        value.abi_version = UInt32(FG_ABI_VERSION)
        withUnsafeMutableBytes(of: &value.digest) { $0.copyBytes(from: state.digest.prefix(Int(FG_DIGEST_LEN))) }
        // One array-value write: the programs read active_bank once per packet.
        try map(FG_MAP_STATE).update(key: UInt32(0), value: value)
    }

    public func record() throws -> AgentRecord? {
        guard let meta = try mapIfPinned(FG_MAP_AGENT_META), let json = try AgentMeta.read(from: meta) else { return nil }
        return try JSONDecoder().decode(AgentRecord.self, from: Data(json))
    }

    public func writeRecord(_ record: AgentRecord) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        try AgentMeta.write(Array(try encoder.encode(record)), to: map(FG_MAP_AGENT_META))
    }

    public func clearBank(_ bank: UInt32) throws {
        // fg_interfaces, fg_prefix_tables and the bucket arrays need nothing: `write` rewrites a bank
        // of them whole, and fg_locals is reached only through the buckets. fg_interfaces_far keys
        // start with the bank.
        let far = try map(FG_MAP_INTERFACES_FAR)
        let keys = try far.packedKeys()
        var doomed: [UInt8] = []
        for start in stride(from: 0, to: keys.count, by: far.facts.keySize)
        where keys.withUnsafeBytes({ $0.loadUnaligned(fromByteOffset: start, as: UInt32.self) }) == bank {
            doomed += keys[start..<start + far.facts.keySize]
        }
        try far.deleteBatch(keys: doomed)
        // Fabrics: the bank's whole range, zeroed in one batch.
        let ids = (0..<UInt32(FG_MAX_FABRICS)).flatMap { BPFMap.bytes(of: bank * UInt32(FG_MAX_FABRICS) + $0) }
        try map(FG_MAP_FABRICS).updateBatch(keys: ids, values: [UInt8](repeating: 0, count: Int(FG_MAX_FABRICS) * MemoryLayout<fg_fabric_value>.size))
    }

    public func write(_ entries: [MapEntry], bank: UInt32) throws {
        try PolicyWriter.write(entries, bank: bank, innerPins: mapsDirectory) { try map($0) }
    }

    // MARK: Hooks

    func linkPin(_ hook: Hook, ifindex: UInt32) -> String { "\(linksDirectory)/\(hook.rawValue)-\(ifindex)" }

    public var tcxAvailable: Bool { TCX.isAvailable }

    @discardableResult
    public func attach(_ hook: Hook, ifindex: UInt32, tc: TCPlacement) throws -> Bool {
        switch hook {
        case .tcEgress, .tcIngress:
            let egress = hook == .tcEgress
            let program = try program(egress ? FG_PROG_TC_EGRESS : FG_PROG_TC_INGRESS)
            guard tc.mode == .tcx else { return try tcFilter.attach(program, ifindex: ifindex, egress: egress) }
            let path = linkPin(hook, ifindex: ifindex)
            // Our link in the asked-for place: swap its program atomically,
            // keeping the place. Elsewhere (another order, the device gone):
            // a new link in that place replaces it.
            if let link = try PinnedLink.open(path), link.isTCX, link.ifindex == ifindex, link.egress == egress {
                let links = try TCX.programs(ifindex: ifindex, egress: egress).linkIDs
                if links.firstIndex(of: link.id) == (tc.order == .first ? 0 : links.count - 1) {
                    try link.update(program)
                    return false
                }
            }
            try PinnedLink.attachTCX(program, ifindex: ifindex, egress: egress, last: tc.order == .last, pinAt: path)
            return false
        case .xdp, .xdpGeneric:
            let program = try program(FG_PROG_XDP_INGRESS)
            let path = linkPin(hook, ifindex: ifindex)
            if let link = try PinnedLink.open(path) {
                // An existing link: swap its program atomically, no detach window.
                if link.ifindex == ifindex {
                    try link.update(program)
                    return false
                }
                // The pin outlived its device (ifindex 0) or names another one: replace it.
                unlink(path)
            }
            try PinnedLink.attachXDP(program, ifindex: ifindex, driverMode: hook == .xdp, pinAt: path)
            return false
        }
    }

    public func detach(_ hook: Hook, ifindex: UInt32, only: HookAttachment?) throws {
        if hook.isTC, only != .tcx {
            try tcFilter.detach(ifindex: ifindex, egress: hook == .tcEgress)
        }
        if !hook.isTC || only != .clsact {
            // The pin is the link's last reference; detaching first also ends
            // it while another process happens to hold it open.
            try PinnedLink.remove(linkPin(hook, ifindex: ifindex))
        }
    }

    public func hooks(ifindex: UInt32) throws -> [HookState] {
        var found: [HookState] = []
        for hook in [Hook.tcEgress, .tcIngress] {
            let egress = hook == .tcEgress
            if let link = try PinnedLink.open(linkPin(hook, ifindex: ifindex)), link.isTCX, link.ifindex == ifindex {
                let listed = try? TCX.programs(ifindex: ifindex, egress: egress)
                let position = listed?.linkIDs.firstIndex(of: link.id)
                found.append(HookState(
                    hook: hook, programID: link.programID, attach: .tcx, position: position.map { $0 + 1 },
                    hookPrograms: listed?.linkIDs.count))
            }
            if let programID = tcFilter.programID(ifindex: ifindex, egress: egress) {
                found.append(HookState(hook: hook, programID: programID, attach: .clsact))
            }
        }
        for hook in [Hook.xdp, .xdpGeneric] {
            if let link = try PinnedLink.open(linkPin(hook, ifindex: ifindex)), link.ifindex == ifindex {
                found.append(HookState(hook: hook, programID: link.programID, attach: .link))
            }
        }
        return found
    }

    public func removeClsactIfUnused(ifindex: UInt32) throws -> Bool {
        guard try TrafficControl.clsactFilters(ifindex: ifindex) == 0 else { return false }
        try TCFilter.destroyClsact(ifindex: ifindex)
        return true
    }

    // MARK: Events

    /// The programs' violation events; each one reaches one reader.
    public func eventRing() throws -> EventRing { try EventRing(map: map(FG_MAP_EVENTS)) }

    // MARK: Counters

    /// Every cell, zeros included (callers filter), read in a few batch calls.
    public func counters() throws -> [CounterKey: CounterValue] { try counters(slots: UInt32(ABILimits.unmanagedSlot)) }

    /// The cells of counter slots below `slots`, and of the unmanaged slot: a
    /// scrape reads the slots in use, not all 257.
    public func counters(slots: UInt32) throws -> [CounterKey: CounterValue] {
        guard let counters = try mapIfPinned(FG_MAP_COUNTERS) else { return [:] }
        let unmanaged = Int(ABILimits.unmanagedSlot)
        var result: [CounterKey: CounterValue] = [:]
        for range in [0..<Int(min(slots, ABILimits.unmanagedSlot)), unmanaged..<unmanaged + 1] where !range.isEmpty {
            for (index, sum) in try counters.counterSums(slots: range) {
                let cell = fg_counter_cell_of(index)
                let key = CounterKey(
                    slot: cell.slot, direction: cell.direction == UInt32(Direction.egress.code) ? .egress : .ingress,
                    reason: Reason(rawValue: UInt8(cell.reason)), action: Action(rawValue: UInt8(cell.action)))
                result[key] = CounterValue(packets: sum.packets, bytes: sum.bytes)
            }
        }
        return result
    }

    public func eventTallies() throws -> [EventKey: EventTally] {
        guard let tallies = try mapIfPinned(FG_MAP_EVENT_TALLY) else { return [:] }
        let values = try tallies.arrayValues(as: fg_event_tally.self)
        let cpus = tallies.valuesPerKey
        var result: [EventKey: EventTally] = [:]
        for index in 0..<values.count / cpus {
            var sum = EventTally()
            for value in values[index * cpus..<(index + 1) * cpus] {
                sum.sent &+= value.sent
                sum.suppressed &+= value.suppressed
                sum.ringFull &+= value.ring_full
            }
            guard sum != EventTally() else { continue }
            let key = EventKey(slot: fg_event_slot(UInt32(index)), reason: Reason(rawValue: UInt8(fg_event_reason(UInt32(index)))))
            result[key] = sum
        }
        return result
    }

    public func resetCounters(slots: Set<UInt32>) throws {
        guard !slots.isEmpty else { return }
        let counters = try map(FG_MAP_COUNTERS)
        let tallies = try map(FG_MAP_EVENT_TALLY)
        for slot in slots {
            for reason in 0..<UInt32(Reason.count) { try tallies.zeroPerCPU(key: fg_event_index(slot, reason)) }
        }
        try counters.setCounters(slots: slots) { _ in fg_counter_value() }
    }

    // MARK: Removal

    public func removePins() throws {
        openedMaps = [:]
        object = nil
        for directory in [linksDirectory, mapsDirectory] {
            guard let names = try? FileManager.default.contentsOfDirectory(atPath: directory) else { continue }
            for name in names where unlink("\(directory)/\(name)") != 0 && errno != ENOENT {
                throw SystemError(verb: "unpin", object: "\(directory)/\(name)", errno: errno)
            }
            rmdir(directory)
        }
        if rmdir(pinDirectory) != 0, errno != ENOENT {
            throw SystemError(verb: "remove pin directory", object: pinDirectory, errno: errno)
        }
    }
}
