import FabricABI
import FabricAgent
import FabricBPF
import FabricCompiler
import FabricHost
import FabricPolicy
import FabricReference

#if canImport(Glibc)
import Glibc
#endif

/// Puts names on what an event carries as numbers: interfaces and their
/// fabrics from the agent's record (the live host for the rest), the owner of
/// the source from the applied policy, the time from the monotonic clock.
public struct EventDescriber: Sendable {
    var names: [UInt32: String] = [:]
    var fabrics: [String: String] = [:]
    /// Owned prefixes, longest first: the first that contains an address owns it.
    var owners: [(prefix: IPPrefix, fabric: String)] = []

    public init(record: AgentRecord?, host: [HostInterface], policy: Policy?) {
        for interface in host { names[interface.index] = interface.name }
        for interface in record?.interfaces ?? [] {
            names[interface.ifindex] = interface.name
            fabrics[interface.name] = interface.fabric
        }
        owners = (policy?.fabrics ?? []).flatMap { fabric in fabric.prefixes.map { (prefix: $0, fabric: fabric.name) } }
            .sorted { $0.prefix.length > $1.prefix.length }
    }

    /// What `events` without a daemon sees: the pinned record, the live host and
    /// the policy file the record names (when it still reads).
    public init(datapath: LinuxDatapath, host: [HostInterface]) throws {
        let record = try datapath.record()
        self.init(record: record, host: host, policy: record.flatMap { try? PolicyLoader.load(path: $0.policy) })
    }

    public func describe(_ event: RawEvent) -> ViolationEvent {
        let summary = FrameSummary(event.head)
        let name = names[event.ifindex] ?? "ifindex \(event.ifindex)"
        return ViolationEvent(
            time: Self.wallClock(monotonicNanoseconds: event.timestampNanoseconds), interface: name, fabric: fabrics[name],
            direction: event.direction == Direction.egress.code ? "egress" : "ingress",
            reason: Reason(rawValue: event.reason).name, action: Action(rawValue: event.action).name,
            generation: event.generation, vlan: summary.vlan, src: summary.source?.description,
            dst: summary.destination?.description, protocol: summary.protocolName, sport: summary.sourcePort,
            dport: summary.destinationPort,
            sourceFabric: summary.source.flatMap { source in owners.first { $0.prefix.contains(source) }?.fabric },
            length: event.frameLength, frame: Digest.hex(event.head))
    }

    /// RFC 3339 in UTC, from bpf_ktime_get_ns (CLOCK_MONOTONIC): the event's
    /// age on the monotonic clock, taken from the wall clock now.
    public static func wallClock(monotonicNanoseconds: UInt64) -> String {
        var monotonic = timespec(), realtime = timespec()
        clock_gettime(CLOCK_MONOTONIC, &monotonic)
        clock_gettime(CLOCK_REALTIME, &realtime)
        let now = Int64(monotonic.tv_sec) * 1_000_000_000 + Int64(monotonic.tv_nsec)
        let wall = Int64(realtime.tv_sec) * 1_000_000_000 + Int64(realtime.tv_nsec)
        return RFC3339.format(epochNanoseconds: wall - (now - Int64(monotonicNanoseconds)))
    }
}
