import ArgumentParser
import FabricABI
import FabricAgent
import FabricBPF
import FabricCapture
import FabricEvents
import FabricNetlink
import Foundation

struct Events: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Stream violation events: a sampled frame for every drop, redirect or would-be one.",
        discussion: """
            The programs report every violation (every action but a plain pass) into a
            ring buffer, rate-limited in the kernel per interface and reason by the
            policy's `events: {rate, burst}` (default 100/s, bursts of 200); what the
            limit refuses is counted (`stats`, fabricguard_events_suppressed_total).

            When `fabricguard run` owns --pin-dir, this connects to its events socket
            (any number of readers); otherwise it reads the ring itself (one reader).

            One line per event by default:
              TIME INTERFACE (FABRIC) DIRECTION REASON ACTION: PROTO SRC -> DST, the
              source's owning fabric and the generation that judged it.
            --json prints JSON lines:
              {"time", "interface", "fabric", "direction", "reason", "action",
               "generation", "vlan": [..], "src", "dst", "protocol", "sport"?, "dport"?,
               "source_fabric", "length", "frame" (the first 128 bytes, hex)}
            --pcapng FILE writes the sampled frames instead, one interface block per
            interface, direction and reason in each packet's comment (tcpdump -r,
            tshark and Wireshark read it); a count goes to stderr at the end.

            Examples:
              sudo fabricguard events
              sudo fabricguard events --json --reason foreign_source --count 10
              sudo fabricguard events --interface ens1f0 --count 100 --pcapng leaks.pcapng
            """
    )

    @Option(name: .long, help: ArgumentHelp("Only events of this interface.", valueName: "name"))
    var interface: String?

    @Option(name: .long, help: ArgumentHelp("Only events of this reason (e.g. foreign_source).", valueName: "reason"))
    var reason: String?

    @Option(name: .long, help: ArgumentHelp("Stop after this many events.", valueName: "n"))
    var count: Int?

    @Option(name: .long, help: ArgumentHelp("Write the sampled frames to this pcapng file.", valueName: "file"))
    var pcapng: String?

    @OptionGroup var pins: PinOptions
    @OptionGroup var output: OutputOptions

    func validate() throws {
        if let reason, Reason(name: reason) == nil {
            throw ValidationError("--reason \(reason): not a reason (\(Reason.all.map(\.name).joined(separator: ", ")))")
        }
        if let count, count < 1 { throw ValidationError("--count must be at least 1") }
        if pcapng != nil, output.json { throw ValidationError("--pcapng and --json: choose one output") }
    }

    func run() throws {
        let source = try openSource()
        let writer: PcapngWriter?
        do {
            writer = try pcapng.map { try PcapngWriter(path: $0) }
        } catch {
            throw CommandFailure(status: .runtimeFailure, message: "events: \(error)")
        }
        var shown = 0
        while count.map({ shown < $0 }) ?? true {
            let batch: [(event: ViolationEvent, line: [UInt8])]
            do {
                guard let next = try source.next() else {
                    throw CommandFailure(status: .runtimeFailure, message: "events: the daemon closed the stream (it stopped)")
                }
                batch = next
            } catch let failure as CommandFailure {
                throw failure
            } catch {
                throw CommandFailure(status: .runtimeFailure, message: "events: \(error)")
            }
            for (event, line) in batch where matches(event) {
                if let writer {
                    do {
                        try writer.write(
                            interface: event.interface, seconds: event.epochSeconds ?? 0, bytes: event.frameBytes,
                            length: event.length, comment: "\(event.direction) \(event.reason) \(event.action)")
                        writer.flush()
                    } catch {
                        throw CommandFailure(status: .runtimeFailure, message: "events: \(error)")
                    }
                } else {
                    FileHandle.standardOutput.write(Data(output.json ? line : Array((event.text + "\n").utf8)))
                }
                shown += 1
                if let count, shown >= count { break }
            }
        }
        if let pcapng { FileHandle.standardError.write(Data("events: wrote \(shown) events to \(pcapng)\n".utf8)) }
    }

    func matches(_ event: ViolationEvent) -> Bool {
        (interface.map { $0 == event.interface } ?? true) && (reason.map { $0 == event.reason } ?? true)
    }

    /// The daemon's socket when `run` owns the pin directory, else the pinned ring.
    func openSource() throws -> any EventSource {
        let pinDir = pins.pinDir
        if let pid = PinOwnership.daemonPID(pinDirectory: pinDir, runtime: pins.runtime) {
            let path = pins.runtime.eventsSocket
            do {
                return SocketSource(subscription: try EventSubscription(path: path))
            } catch {
                throw CommandFailure(
                    status: .runtimeFailure,
                    message: "events: the daemon of \(pinDir) (pid \(pid)) owns the ring, but its socket does not answer: \(error)"
                        + " (a daemon started with --runtime-dir needs the same --runtime-dir here)")
            }
        }
        let datapath = LinuxDatapath(pinDirectory: pinDir)
        do {
            guard try datapath.isInstalled() else {
                throw CommandFailure(
                    status: .nothingApplied,
                    message: "events: nothing is applied in \(pinDir) and no daemon runs for it; start one with"
                        + " `fabricguard run --policy FILE` (or `fabricguard apply --policy FILE`), then run events again")
            }
            return RingSource(
                ring: try datapath.eventRing(),
                describer: try EventDescriber(datapath: datapath, host: LiveHost().inventory().interfaces))
        } catch let failure as CommandFailure {
            throw failure
        } catch {
            throw CommandFailure(status: .runtimeFailure, message: "events: \(error)\(permissionHint(error))")
        }
    }
}

/// Where `events` gets its events from.
protocol EventSource {
    /// The next events with their JSON lines (possibly none after a quiet
    /// wait); nil when the stream ended.
    func next() throws -> [(event: ViolationEvent, line: [UInt8])]?
}

/// The pinned ring, read directly: this process is its one consumer.
struct RingSource: EventSource {
    let ring: EventRing
    let describer: EventDescriber

    func next() throws -> [(event: ViolationEvent, line: [UInt8])]? {
        try ring.poll(timeoutMilliseconds: 500).map { raw in
            let event = describer.describe(raw)
            return (event, event.jsonLine())
        }
    }
}

/// The daemon's fan-out socket.
struct SocketSource: EventSource {
    let subscription: EventSubscription

    func next() throws -> [(event: ViolationEvent, line: [UInt8])]? {
        try subscription.next().map { [$0] }
    }
}
