import ArgumentParser
import FabricABI
import FabricCompiler
import FabricPolicy
import FabricReference

struct Explain: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Show the verdict, reason and deciding rule for one packet, from the reference path.",
        discussion: """
            Builds the packet (UDP, or ARP with --arp) and runs the same decision the
            kernel programs run, against the plan compiled for this host (or --host).

            Examples:
              # a SAN-B-sourced packet leaving through the SAN-A NIC
              fabricguard explain --policy fabrics.yaml --out ens1f0 --src 10.2.0.5 --dst 10.1.0.20
              # a packet for this host's SAN-B address arriving on the SAN-A NIC
              fabricguard explain --policy fabrics.yaml --in ens1f0 --src 10.1.0.20 --dst 10.2.0.5
              # an ARP request for a SAN-B address seen on SAN-A (ARP flux)
              fabricguard explain --policy fabrics.yaml --in ens1f0 --src 10.1.0.20 --dst 10.2.0.5 --arp request

            --json prints {"verdict", "reason", "action", "redirect_interface"?, "rule", ...}.
            """
    )

    @OptionGroup var source: PolicyOptions

    @Option(name: .customLong("out"), help: ArgumentHelp("The packet leaves through this interface (egress).", valueName: "interface"))
    var outInterface: String?

    @Option(name: .customLong("in"), help: ArgumentHelp("The packet arrives on this interface (ingress).", valueName: "interface"))
    var inInterface: String?

    @Option(name: .customLong("src"), help: ArgumentHelp("Source address (ARP: sender address).", valueName: "address"))
    var sourceAddress: String

    @Option(
        name: .customLong("dst"),
        help: ArgumentHelp("Destination address (ARP: target address); default 192.0.2.1 or 2001:db8::1.", valueName: "address"))
    var destinationAddress: String?

    @Option(name: .long, help: ArgumentHelp("Explain an ARP frame instead of UDP.", valueName: "request|reply"))
    var arp: ARPKind?

    @OptionGroup var output: OutputOptions

    enum ARPKind: String, ExpressibleByArgument, CaseIterable {
        case request, reply
    }

    func validate() throws {
        guard (outInterface == nil) != (inInterface == nil) else {
            throw ValidationError("give exactly one of --out INTERFACE (egress) or --in INTERFACE (ingress)")
        }
        guard let src = IPAddress(sourceAddress) else {
            throw ValidationError("--src '\(sourceAddress)' is not an IPv4 or IPv6 address")
        }
        if let destinationAddress {
            guard let dst = IPAddress(destinationAddress) else {
                throw ValidationError("--dst '\(destinationAddress)' is not an IPv4 or IPv6 address")
            }
            guard dst.family == src.family else { throw ValidationError("--src and --dst must be of the same address family") }
        }
        if arp != nil, src.family != .ipv4 { throw ValidationError("--arp needs IPv4 addresses") }
    }

    func run() throws {
        let (_, host, compilation) = try source.compile()
        let direction: Direction = outInterface != nil ? .egress : .ingress
        let name = outInterface ?? inInterface ?? ""
        guard let link = host.interface(named: name) else {
            throw CommandFailure(
                status: .usageOrPolicy, message: "explain \(name): no such interface on \(source.host ?? "this host") (see `fabricguard inventory`)")
        }
        let src = IPAddress(sourceAddress)!
        let dst = destinationAddress.flatMap(IPAddress.init) ?? (src.family == .ipv4 ? IPAddress("192.0.2.1")! : IPAddress("2001:db8::1")!)
        let frame: [UInt8]
        switch arp {
        case .request?: frame = FrameBuilder.arp(operation: ARP.request, senderIP: src, targetIP: dst)
        case .reply?: frame = FrameBuilder.arp(operation: ARP.reply, senderIP: src, targetIP: dst)
        case nil: frame = FrameBuilder.udp(source: src, destination: dst)
        }
        let datapath = ReferenceDatapath(plan: compilation.plan)
        let explanation = datapath.explain(
            frame: frame, interface: name, ifindex: link.index, direction: direction, source: src,
            destination: arp == .reply ? nil : dst, names: { host.interface(index: $0)?.name })
        if output.json {
            try JSONOutput.print(explanation)
            return
        }
        let what = arp.map { "ARP \($0.rawValue) \(src) -> \(dst)" } ?? "\(src) -> \(dst)"
        print("\(direction.rawValue) \(name)\(explanation.fabric.map { " (fabric \($0))" } ?? ""): \(what)")
        print("  verdict  \(explanation.verdict.rawValue)")
        print("  reason   \(explanation.reason.name)")
        print("  action   \(explanation.action.name)\(explanation.redirectInterface.map { " -> \($0)" } ?? "")")
        print("  rule     \(explanation.rule)")
    }
}
