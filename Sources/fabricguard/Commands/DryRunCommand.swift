import ArgumentParser
import FabricABI
import FabricCapture
import FabricCompiler
import FabricHost
import FabricPolicy
import FabricReference
import Foundation

struct DryRunCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "dry-run",
        abstract: "Run the reference decision over a capture and report what the policy would do.",
        discussion: """
            Reads pcap or pcapng through libpcap. A capture from `tcpdump -i any` (Linux
            cooked v2) carries each frame's interface and direction, so it needs no more
            flags; a per-interface Ethernet capture, or a raw IP one (RAW, IPV4, IPV6:
            `tcpdump -i tun0`, cloud packet mirrors), needs --interface and --direction;
            Linux cooked v1 needs --interface. Interface indexes are mapped to names through
            this host's inventory, or --host (the `inventory --json` of the capture's
            host), so a storage host's capture can be judged on a laptop. Frames on an
            interface the inventory does not know are reported as unattributed.

            --json prints the counters in the shape of `stats --json`, plus verdicts,
            top offending flows and unattributed frames. Frames a small snaplen
            (`tcpdump -s 20`) cut before the headers the decision reads are counted as
            capture_truncated, not judged, and never fail --fail-on-violation; cut frames
            whose headers were kept are judged as usual. Memory stays flat whatever the
            capture size. With two CPUs or more (the affinity mask: `taskset -c 0` for
            one), a second thread decides while the first reads.

            Examples:
              tcpdump -i any -w host.pcap                 # on the storage host
              fabricguard inventory --json > host.json    # on the storage host
              fabricguard dry-run --policy fabrics.yaml --pcap host.pcap --host host.json
              fabricguard dry-run --policy fabrics.yaml --pcap ens1f0.pcap --interface ens1f0 --direction egress
              fabricguard dry-run --policy new.yaml --pcap reference.pcap --host host.json --fail-on-violation

            Exit status: 0 done, 3 with --fail-on-violation when any frame would be
            dropped or redirected, 2 bad policy or arguments, 1 unreadable capture.
            """
    )

    @OptionGroup var source: PolicyOptions

    @Option(name: .long, help: ArgumentHelp("The capture (pcap or pcapng).", valueName: "file"))
    var pcap: String

    @Option(name: .long, help: ArgumentHelp("The interface every frame was seen on (Ethernet, raw IP and cooked v1 captures).", valueName: "name"))
    var interface: String?

    @Option(name: .long, help: ArgumentHelp("The direction of every frame (Ethernet and raw IP captures).", valueName: "egress|ingress"))
    var direction: Direction?

    @Option(name: .long, help: "How many offending flows to list.")
    var top = 10

    @Flag(name: .long, help: "Exit 3 when any frame would be dropped or redirected.")
    var failOnViolation = false

    @OptionGroup var output: OutputOptions

    func run() throws {
        let (_, host, compilation) = try source.compile()
        let reader: CaptureReader
        do {
            reader = try CaptureReader(path: pcap)
        } catch {
            throw CommandFailure(status: .runtimeFailure, message: "dry-run: \(error)")
        }
        var fixedIndex: UInt32?
        if let interface {
            guard let link = host.interface(named: interface) else {
                throw CommandFailure(status: .usageOrPolicy, message: "dry-run: --interface \(interface) is not on \(source.host ?? "this host")")
            }
            fixedIndex = link.index
        }
        switch reader.linkType {
        case .ethernet where fixedIndex == nil || direction == nil:
            throw CommandFailure(
                status: .usageOrPolicy,
                message: "dry-run \(pcap): an Ethernet capture does not say where frames were seen: give --interface NAME and --direction egress|ingress")
        case .raw, .ipv4, .ipv6:
            guard fixedIndex != nil, direction != nil else {
                throw CommandFailure(
                    status: .usageOrPolicy,
                    message: "dry-run \(pcap): a raw IP (\(reader.linkType.name)) capture does not say where frames were seen: give --interface NAME and --direction egress|ingress")
            }
        case .linuxCookedV1 where fixedIndex == nil:
            throw CommandFailure(status: .usageOrPolicy, message: "dry-run \(pcap): a Linux cooked v1 capture has no interface: give --interface NAME")
        default:
            break
        }

        let names = Dictionary(uniqueKeysWithValues: host.interfaces.map { ($0.index, $0.name) })
        var pipeline = DryRunPipeline(datapath: ReferenceDatapath(plan: compilation.plan), interfaceNames: names)
        // A plain local: an option read through its property wrapper costs a generic
        // metadata lookup, once per frame inside the loop.
        let fixedDirection = direction
        do {
            // Parsed in libpcap's buffer (no copy per frame), decided in batches.
            while try reader.withNextFrame({ captured, bytes in
                pipeline.submit(
                    frame: bytes, wireLength: captured.wireLength, ifindex: fixedIndex ?? captured.interfaceIndex,
                    direction: fixedDirection ?? captured.direction ?? .ingress,
                    time: DryRun.Timestamp(seconds: captured.seconds, microseconds: captured.microseconds),
                    truncated: captured.truncated)
            }) {}
        } catch {
            throw CommandFailure(status: .runtimeFailure, message: "dry-run: \(error)")
        }
        let dryRun = pipeline.finish()
        let report = dryRun.report(capture: pcap, linkType: reader.linkType.name, top: top)
        if output.json {
            try JSONOutput.print(report)
        } else {
            print(DryRunText.render(report))
        }
        if failOnViolation, dryRun.violations > 0 {
            throw CommandFailure(status: .violation, message: "dry-run: \(dryRun.violations) frames would be dropped or redirected")
        }
    }
}

extension Direction: ExpressibleByArgument {}

enum DryRunText {
    static func render(_ report: DryRunReport) -> String {
        var lines = [
            "dry-run \(report.capture) (\(report.linkType)): \(report.frames) frames, \(report.packets) judged, \(report.unattributed.frames) unattributed"
                + (report.unattributed.ifindexes.isEmpty ? "" : " (unknown ifindex \(report.unattributed.ifindexes.map(String.init).joined(separator: ", ")))")
                + (report.captureTruncated == 0 ? "" : ", \(report.captureTruncated) capture_truncated (cut by the capture's snaplen before the headers the decision reads; not judged)"),
            "verdicts: " + ["pass", "drop", "redirect"].map { "\($0) \(report.verdicts[$0] ?? 0)" }.joined(separator: ", "),
            "",
        ]
        lines += TextColumns.render(
            header: ["interface", "direction", "reason", "action", "packets", "bytes"],
            rows: report.counters.map {
                [$0.interface, $0.direction.rawValue, $0.reason.name, $0.action.name, String($0.packets), String($0.bytes)]
            }, numericFrom: 4)
        if !report.topFlows.isEmpty {
            lines.append("")
            lines.append("top offending flows")
            lines += TextColumns.render(
                header: ["source", "destination", "interface", "direction", "reason", "action", "packets", "first", "last"],
                rows: report.topFlows.map {
                    [$0.source ?? "-", $0.destination ?? "-", $0.interface, $0.direction.rawValue, $0.reason.name, $0.action.name,
                     String($0.packets), time($0.first), time($0.last)]
                }, numericFrom: 6)
        }
        return lines.joined(separator: "\n")
    }

    static func time(_ stamp: DryRun.Timestamp) -> String {
        let date = Date(timeIntervalSince1970: Double(stamp.seconds) + Double(stamp.microseconds) / 1e6)
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        return formatter.string(from: date)
    }
}
