import CFabricABI
import FabricABI
import FabricCompiler
import FabricPolicy

/// The verdict for one frame, as the kernel programs record it.
public struct Decision: Equatable, Hashable, Sendable, CustomStringConvertible {
    public var reason: Reason
    public var action: Action
    /// The interface a frame is (or, in audit, would be) redirected to; 0 otherwise.
    public var redirectIfindex: UInt32
    /// The counter slot charged: the interface's, or the unmanaged slot.
    public var counterSlot: UInt32

    public init(reason: Reason, action: Action, redirectIfindex: UInt32 = 0, counterSlot: UInt32) {
        self.reason = reason
        self.action = action
        self.redirectIfindex = redirectIfindex
        self.counterSlot = counterSlot
    }

    public var verdict: Verdict { action.verdict }

    public var description: String {
        let target = redirectIfindex == 0 ? "" : " -> ifindex \(redirectIfindex)"
        return "\(verdict.rawValue) (\(reason.name), \(action.name)\(target))"
    }
}

/// What a frame carries for the decision, once parsed.
enum ParsedFrame {
    case notIP
    case malformed
    case ipv4(source: UInt32, destination: UInt32)
    case ipv6(source: UInt128, destination: UInt128)
    /// `target` is nil for replies: only requests are checked against the
    /// destination rule (a request for another fabric's address is ARP flux).
    case arp(sender: UInt32, target: UInt32?)
}

/// The pure-Swift reference of the datapath decision (docs/decision.md), fed by
/// the same MapPlan the kernel maps are filled from. Mirrors decide() in
/// bpf/include/decide.h step for step; see that file for the kernel side.
public struct ReferenceDatapath: Sendable {
    struct DirectionRule: Sendable {
        var mode: UInt8
        var action: UInt8
        var unowned: UInt8
        var checks: UInt8
    }

    struct InterfaceRule: Sendable {
        var fabricID: UInt32
        var counterSlot: UInt32
        var egress: DirectionRule
        var ingress: DirectionRule
    }

    struct PrefixRule: Sendable {
        var fabricID: UInt32
        var exempt: Bool
    }

    struct LocalRule: Sendable {
        var fabricID: UInt32
        var redirectIfindex: UInt32
    }

    /// Managed interfaces sorted by ifindex: hosts have a handful, and a scan of a
    /// few contiguous entries beats hashing on the per-frame path.
    struct InterfaceTable: Sendable {
        var ifindexes: [UInt32]
        var rules: [InterfaceRule]

        func rule(for ifindex: UInt32) -> InterfaceRule? {
            if ifindexes.count <= 16 {
                guard let position = ifindexes.firstIndex(of: ifindex) else { return nil }
                return rules[position]
            }
            var low = 0
            var high = ifindexes.count
            while low < high {
                let middle = (low + high) / 2
                if ifindexes[middle] < ifindex { low = middle + 1 } else { high = middle }
            }
            return low < ifindexes.count && ifindexes[low] == ifindex ? rules[low] : nil
        }
    }

    /// Above this many IPv4 prefixes the trie gets a 16-bit first-level index.
    static let indexThreshold = 1024

    public let plan: MapPlan
    let interfaces: InterfaceTable
    let prefixesV4: PrefixTrie<UInt32, PrefixRule>
    let prefixesV6: PrefixTrie<UInt128, PrefixRule>
    /// Keyed by the IPv4-mapped form, as the kernel's fg_locals map is.
    let locals: [UInt128: LocalRule]
    /// Indexed by fabric id; 0 is "no fabric" and never redirects.
    let fabricRedirects: [UInt32]

    public init(plan: MapPlan) {
        self.plan = plan
        func rule(_ config: DirectionConfig) -> DirectionRule {
            DirectionRule(
                mode: config.mode.code, action: config.action.code, unowned: config.unowned.code,
                checks: config.checks.reduce(0) { $0 | $1.bit })
        }
        let sorted = plan.interfaces.sorted { $0.ifindex < $1.ifindex }
        let interfaces = InterfaceTable(
            ifindexes: sorted.map(\.ifindex),
            rules: sorted.map { entry in
                InterfaceRule(
                    fabricID: entry.fabricID, counterSlot: entry.counterSlot, egress: rule(entry.egress),
                    ingress: rule(entry.ingress))
            })
        var v4 = PrefixTrie<UInt32, PrefixRule>()
        var v6 = PrefixTrie<UInt128, PrefixRule>()
        for entry in plan.prefixes {
            let value = PrefixRule(fabricID: entry.fabricID, exempt: entry.exempt)
            switch entry.prefix.address {
            case .v4(let key): v4.insert(key, length: entry.prefix.length, value: value)
            case .v6(let key): v6.insert(key, length: entry.prefix.length, value: value)
            }
        }
        if v4.count > Self.indexThreshold { v4.buildIndex(bits: 16) }
        if v6.count > Self.indexThreshold { v6.buildIndex(bits: 16) }
        var locals: [UInt128: LocalRule] = [:]
        for entry in plan.locals {
            locals[entry.address.mappedV6] = LocalRule(fabricID: entry.fabricID, redirectIfindex: entry.redirectIfindex)
        }
        var redirects = [UInt32](repeating: 0, count: Int(plan.fabrics.map(\.id).max() ?? 0) + 1)
        for fabric in plan.fabrics { redirects[Int(fabric.id)] = fabric.redirectIfindex }
        self.interfaces = interfaces
        self.prefixesV4 = v4
        self.prefixesV6 = v6
        self.locals = locals
        self.fabricRedirects = redirects
    }

    /// The merged-table entry the decision uses for `address` (owner and exemption), if any.
    public func longestPrefix(containing address: IPAddress) -> PrefixEntry? {
        let match: (length: Int, value: PrefixRule)? =
            switch address {
            case .v4(let key): prefixesV4.longestMatch(key)
            case .v6(let key): prefixesV6.longestMatch(key)
            }
        return match.map { PrefixEntry(prefix: IPPrefix(covering: address, length: $0.length), fabricID: $0.value.fabricID, exempt: $0.value.exempt) }
    }

    public func decide(frame: [UInt8], ifindex: UInt32, direction: Direction) -> Decision {
        frame.withUnsafeBytes { decide(frame: $0, ifindex: ifindex, direction: direction) }
    }

    /// The decision for one frame leaving (egress) or arriving on (ingress) `ifindex`.
    public func decide(frame: UnsafeRawBufferPointer, ifindex: UInt32, direction: Direction) -> Decision {
        decide(Self.classify(frame), ifindex: ifindex, direction: direction)
    }

    /// The same over a frame already parsed by `classify` (parsing reads nothing but
    /// the frame, so it may come first): the dry-run parses a frame while its bytes
    /// are at hand and decides later, in a batch, keeping the parse for its report.
    func decide(_ classified: ParsedFrame, ifindex: UInt32, direction: Direction) -> Decision {
        // 1. fabric(I) is none, or the hook is off in this direction: not ours to judge.
        guard let interface = interfaces.rule(for: ifindex) else {
            return Decision(reason: .unmanaged, action: .pass, counterSlot: ABILimits.unmanagedSlot)
        }
        let rule = direction == .egress ? interface.egress : interface.ingress
        let slot = interface.counterSlot
        if rule.mode == Mode.off.code {
            return Decision(reason: .unmanaged, action: .pass, counterSlot: slot)
        }

        // 2-3. Parse: non-IP passes, a truncated or invalid header is a violation.
        let source: PrefixRule?
        let sourceKey: UInt128
        let destinationKey: UInt128?
        var isARP = false
        switch classified {
        case .notIP:
            return Decision(reason: .notIP, action: .pass, counterSlot: slot)
        case .malformed:
            return violation(.malformed, rule: rule, redirect: false, sourceKey: 0, owner: 0, slot: slot)
        case .ipv4(let src, let dst):
            source = prefixesV4.longestMatch(src)?.value
            sourceKey = IPAddress.v4(src).mappedV6
            destinationKey = IPAddress.v4(dst).mappedV6
        case .arp(let sender, let target):
            isARP = true
            source = prefixesV4.longestMatch(sender)?.value
            sourceKey = IPAddress.v4(sender).mappedV6
            destinationKey = target.map { IPAddress.v4($0).mappedV6 }
        case .ipv6(let src, let dst):
            source = prefixesV6.longestMatch(src)?.value
            sourceKey = src
            destinationKey = dst
        }

        // 4. Exempt sources (DHCP, DAD, link-local) pass in both directions.
        if let source, source.exempt {
            return Decision(reason: .exempt, action: .pass, counterSlot: slot)
        }
        let owner = source?.fabricID ?? 0

        if direction == .egress {
            // 5. The source belongs to the fabric it leaves through.
            if owner == interface.fabricID {
                return Decision(reason: .ok, action: .pass, counterSlot: slot)
            }
            // 6. A source no fabric owns: the policy's `unowned` setting decides.
            if owner == 0 {
                if rule.unowned == UnownedAction.pass.code {
                    return Decision(reason: .unownedSource, action: .pass, counterSlot: slot)
                }
                return violation(.unownedSource, rule: rule, redirect: false, sourceKey: sourceKey, owner: 0, slot: slot)
            }
            // 7. Another fabric's source. ARP is never redirected: bpf_redirect_neigh
            // handles IP only, and the owning NIC resolves its own neighbours.
            return violation(
                .foreignSource, rule: rule, redirect: rule.action == ViolationAction.redirect.code && !isARP,
                sourceKey: sourceKey, owner: owner, slot: slot)
        }

        // Ingress 5: a source owned by another fabric.
        if rule.checks & IngressCheck.source.bit != 0, owner != 0, owner != interface.fabricID {
            return violation(.foreignSource, rule: rule, redirect: false, sourceKey: sourceKey, owner: owner, slot: slot)
        }
        // Ingress 6: strong host: one of our addresses, owned by another fabric.
        if rule.checks & IngressCheck.destination.bit != 0, let destinationKey,
            let local = locals[destinationKey], local.fabricID != interface.fabricID
        {
            return violation(
                .foreignDestination, rule: rule, redirect: false, sourceKey: sourceKey, owner: owner, slot: slot)
        }
        return Decision(reason: .ok, action: .pass, counterSlot: slot)
    }

    /// The action for a violation: drop or redirect under enforce, the would_*
    /// counterpart under audit. A redirect needs a usable interface of the
    /// owning fabric: the one holding the source address, else the fabric's
    /// first usable one; without it the frame is dropped as redirect_unavailable.
    func violation(
        _ reason: Reason, rule: DirectionRule, redirect: Bool, sourceKey: UInt128, owner: UInt32, slot: UInt32
    ) -> Decision {
        let enforce = rule.mode == Mode.enforce.code
        guard redirect else {
            return Decision(reason: reason, action: enforce ? .drop : .wouldDrop, counterSlot: slot)
        }
        let target = locals[sourceKey]?.redirectIfindex ?? fabricRedirects[Int(owner)]
        guard target != 0 else {
            return Decision(reason: .redirectUnavailable, action: enforce ? .drop : .wouldDrop, counterSlot: slot)
        }
        return Decision(
            reason: reason, action: enforce ? .redirect : .wouldRedirect, redirectIfindex: target, counterSlot: slot)
    }

    // Reading ahead for a batch of frames, level by level (see PrefixTrie's reading
    // ahead): the lines the source's lookup will read are prefetched for every frame of
    // the batch before any is decided. Nothing is decided here, and a decision reads
    // nothing from it: a dry-run, whose capture reading evicts the tables between
    // frames, would otherwise wait on memory, one miss after another, more than it decides.

    /// Level 0: the first-level index slot of the source's table.
    func prefetchStart(_ classified: ParsedFrame) {
        switch classified {
        case .ipv4(let source, _), .arp(let source, _): prefixesV4.prefetchStart(source)
        case .ipv6(let source, _): prefixesV6.prefetchStart(source)
        case .notIP, .malformed: break
        }
    }

    /// Level 1: the node the source's lookup starts from (-1: none).
    func prefetchNode(startingFor classified: ParsedFrame) -> Int32 {
        switch classified {
        case .ipv4(let source, _), .arp(let source, _): prefixesV4.prefetchNode(startingAt: source)
        case .ipv6(let source, _): prefixesV6.prefetchNode(startingAt: source)
        case .notIP, .malformed: -1
        }
    }

    /// Each further level: the node after `node` on the source's lookup (-1: it ends).
    func prefetchNode(after node: Int32, for classified: ParsedFrame) -> Int32 {
        switch classified {
        case .ipv4(let source, _), .arp(let source, _): prefixesV4.prefetchNode(after: node, for: source)
        case .ipv6(let source, _): prefixesV6.prefetchNode(after: node, for: source)
        case .notIP, .malformed: -1
        }
    }

    /// Ethernet, up to two VLAN tags, then ARP, IPv4 or IPv6 (parse.h's fg_parse_frame).
    static func classify(_ frame: UnsafeRawBufferPointer) -> ParsedFrame {
        var cursor = HeaderCursor(frame)
        guard let proto = cursor.parseEthhdr() else { return .malformed }
        switch proto {
        case EtherType.ipv4:
            guard let ip = cursor.parseIphdr() else { return .malformed }
            return .ipv4(source: ip.source, destination: ip.destination)
        case EtherType.ipv6:
            guard let ip = cursor.parseIp6hdr() else { return .malformed }
            return .ipv6(source: ip.source, destination: ip.destination)
        case EtherType.arp:
            guard let arp = cursor.parseArphdr() else { return .malformed }
            guard arp.protocolType == EtherType.ipv4 else { return .notIP }
            return .arp(sender: arp.senderIP, target: arp.operation == ARP.request ? arp.targetIP : nil)
        default:
            return .notIP
        }
    }
}
