import ArgumentParser
import FabricABI
import FabricAgent
import FabricBPF
import FabricNetlink
import FabricPolicy
import FabricReference
import Foundation

struct Events: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Stream violation events: a sampled frame for every drop, redirect or would-be one.",
        discussion: """
            The programs report every violation (every action but a plain pass) into a
            ring buffer, rate-limited in the kernel (64 events per CPU per second; what
            the budget refuses is still counted by `stats`). This reads that ring for
            --pin-dir: one line per event, JSON lines with --json:
              {"time", "interface", "fabric", "direction", "reason", "action",
               "generation", "vlan": [..], "src", "dst", "protocol", "sport"?, "dport"?,
               "source_fabric", "frame" (the first bytes, hex)}
            Each event reaches one reader: run one `events` per pin directory.
            (`generation` is the one running when the event was read.)

            Examples:
              sudo fabricguard events
              sudo fabricguard events --json --reason foreign_source --count 10
            """
    )

    @Option(name: .long, help: ArgumentHelp("Only events of this interface.", valueName: "name"))
    var interface: String?

    @Option(name: .long, help: ArgumentHelp("Only events of this reason (e.g. foreign_source).", valueName: "reason"))
    var reason: String?

    @Option(name: .long, help: ArgumentHelp("Stop after this many events.", valueName: "n"))
    var count: Int?

    @OptionGroup var pins: PinOptions
    @OptionGroup var output: OutputOptions

    func validate() throws {
        if let reason, Reason(name: reason) == nil {
            throw ValidationError("--reason \(reason): not a reason (\(Reason.all.map(\.name).joined(separator: ", ")))")
        }
        if let count, count < 1 { throw ValidationError("--count must be at least 1") }
    }

    func run() throws {
        let datapath = LinuxDatapath(pinDirectory: pins.pinDir)
        let ring: EventRing
        let context: EventContext
        do {
            guard try datapath.isInstalled() else {
                throw CommandFailure(status: .nothingApplied, message: "events: nothing applied in \(pins.pinDir)")
            }
            ring = try datapath.eventRing()
            context = try EventContext(datapath: datapath)
        } catch let failure as CommandFailure {
            throw failure
        } catch {
            throw CommandFailure(status: .runtimeFailure, message: "events: \(error)")
        }
        let wanted = reason.flatMap(Reason.init(name:))
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        encoder.keyEncodingStrategy = .convertToSnakeCase
        var shown = 0
        while count.map({ shown < $0 }) ?? true {
            let raw: [RawEvent]
            do {
                raw = try ring.poll(timeoutMilliseconds: 500)
            } catch {
                throw CommandFailure(status: .runtimeFailure, message: "events: \(error)")
            }
            let generation = (try? datapath.generation())?.generation
            for event in raw.map({ context.describe($0, generation: generation) }) {
                guard interface.map({ $0 == event.interface }) ?? true, wanted.map({ $0.name == event.reason }) ?? true else { continue }
                let line = output.json ? String(decoding: try encoder.encode(event), as: UTF8.self) : event.text
                FileHandle.standardOutput.write(Data((line + "\n").utf8))
                shown += 1
                if let count, shown >= count { break }
            }
        }
    }
}

/// One event as `events` prints it.
struct EventLine: Encodable {
    var time: String
    var interface: String
    var fabric: String?
    var direction: String
    var reason: String
    var action: String
    var generation: UInt64?
    var vlan: [UInt16]
    var src: String?
    var dst: String?
    var `protocol`: String?
    var sport: UInt16?
    var dport: UInt16?
    var sourceFabric: String?
    var frame: String

    var text: String {
        let ports = dport.map { ":\($0)" } ?? ""
        let tags = vlan.isEmpty ? "" : " vlan \(vlan.map(String.init).joined(separator: "."))"
        return "\(time) \(interface) \(direction) \(reason) \(action): \(`protocol` ?? "?") \(src ?? "?") -> \(dst ?? "?")\(ports)\(tags)"
            + (sourceFabric.map { " (source owned by \($0))" } ?? "")
    }
}

/// Names for what an event carries as numbers: interfaces and fabrics from
/// the agent's record (the live host for the rest), source owners from the
/// applied policy file, times from the monotonic clock.
struct EventContext {
    var names: [UInt32: String] = [:]
    var fabrics: [String: String] = [:]
    var owners: [(prefix: IPPrefix, fabric: String)] = []

    init(datapath: LinuxDatapath) throws {
        for interface in try LiveHost().inventory().interfaces { names[interface.index] = interface.name }
        if let record = try datapath.record() {
            for interface in record.interfaces {
                names[interface.ifindex] = interface.name
                fabrics[interface.name] = interface.fabric
            }
            if let policy = try? PolicyLoader.load(path: record.policy) {
                owners = policy.fabrics.flatMap { fabric in fabric.prefixes.map { (prefix: $0, fabric: fabric.name) } }
                    .sorted { $0.prefix.length > $1.prefix.length }
            }
        }
    }

    func describe(_ event: RawEvent, generation: UInt64?) -> EventLine {
        let summary = FrameSummary(event.head)
        let name = names[event.ifindex] ?? "ifindex \(event.ifindex)"
        return EventLine(
            time: Self.wallClock(monotonicNanoseconds: event.timestampNanoseconds), interface: name, fabric: fabrics[name],
            direction: event.direction == Direction.egress.code ? "egress" : "ingress", reason: Reason(rawValue: event.reason).name,
            action: Action(rawValue: event.action).name, generation: generation, vlan: summary.vlan,
            src: summary.source?.description, dst: summary.destination?.description, protocol: summary.protocolName,
            sport: summary.sourcePort, dport: summary.destinationPort,
            sourceFabric: summary.source.flatMap { source in owners.first { $0.prefix.contains(source) }?.fabric },
            frame: event.head.map { String(format: "%02x", $0) }.joined())
    }

    /// RFC 3339 in UTC, from bpf_ktime_get_ns (CLOCK_MONOTONIC).
    static func wallClock(monotonicNanoseconds: UInt64) -> String {
        var monotonic = timespec(), realtime = timespec()
        clock_gettime(CLOCK_MONOTONIC, &monotonic)
        clock_gettime(CLOCK_REALTIME, &realtime)
        let now = Double(monotonic.tv_sec) + Double(monotonic.tv_nsec) / 1e9
        let wall = Double(realtime.tv_sec) + Double(realtime.tv_nsec) / 1e9 - (now - Double(monotonicNanoseconds) / 1e9)
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        return formatter.string(from: Date(timeIntervalSince1970: wall))
    }
}
