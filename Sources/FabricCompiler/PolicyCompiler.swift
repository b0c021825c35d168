import FabricABI
import FabricHost
import FabricPolicy

/// The compiled form of a policy for one host, with what the operator should know.
public struct Compilation: Sendable, Equatable {
    public var plan: MapPlan
    /// Problems that do not stop enforcement (an interface down or missing, an
    /// address no fabric owns), located in the policy file like errors are.
    public var warnings: [PolicyDiagnostic]
}

public struct CompileOptions: Sendable, Equatable {
    /// Accept fabric interfaces that are not on the host (they are skipped until they appear).
    public var allowMissing: Bool
    /// Counter slots already given out (by earlier applies): an interface keeps
    /// its slot, so its counters continue; new interfaces take the lowest slot
    /// that no interface has held.
    public var counterSlots: [String: UInt32]

    public init(allowMissing: Bool = false, counterSlots: [String: UInt32] = [:]) {
        self.allowMissing = allowMissing
        self.counterSlots = counterSlots
    }
}

/// (Policy, HostInventory) -> MapPlan. Pure and deterministic: no clock, no
/// randomness, no dictionary iteration order leaks into the output.
public enum PolicyCompiler {
    public static func compile(
        _ policy: Policy, host: HostInventory, options: CompileOptions = .init()
    ) throws(PolicyError) -> Compilation {
        var problems: [PolicyDiagnostic] = []
        var warnings: [PolicyDiagnostic] = []
        let source = policy.source

        if policy.fabrics.count >= ABILimits.maxFabrics {
            problems.append(source.diagnostic(
                "fabrics", "\(policy.fabrics.count) fabrics exceed the limit of \(ABILimits.maxFabrics - 1)"))
        }

        // Interfaces: fabric membership, counter slots and per-direction settings.
        var slots = SlotAllocator(taken: options.counterSlots)
        var interfaces: [InterfaceEntry] = []
        var fabrics: [FabricEntry] = []
        for (fabricIndex, fabric) in policy.fabrics.enumerated() {
            let fabricID = UInt32(fabricIndex + 1)
            let egress = fabric.effectiveEgress(policy.egress)
            let ingress = fabric.effectiveIngress(policy.ingress)
            var redirect: HostInterface?
            for (index, name) in fabric.interfaces.enumerated() {
                let field = "fabrics[\(fabricIndex)].interfaces[\(index)]"
                guard let link = host.interface(named: name) else {
                    if options.allowMissing {
                        warnings.append(source.diagnostic(
                            field, "interface '\(name)' is not on this host; it is skipped until it appears"))
                    } else {
                        problems.append(source.diagnostic(
                            field, "interface '\(name)' is not on this host (see `fabricguard inventory`; --allow-missing accepts it)"))
                    }
                    continue
                }
                if !link.usable {
                    warnings.append(source.diagnostic(
                        field, "interface '\(name)' of fabric '\(fabric.name)' is \(link.up ? "without carrier" : "down")"))
                } else if redirect == nil {
                    redirect = link
                }
                guard let slot = slots.slot(for: name) else {
                    problems.append(source.diagnostic(
                        field, "no free counter slot for '\(name)' (\(ABILimits.maxInterfaces) interfaces have held one; `fabricguard unload` resets them)"))
                    continue
                }
                interfaces.append(InterfaceEntry(
                    name: name, ifindex: link.index, fabricID: fabricID, fabric: fabric.name,
                    counterSlot: slot,
                    egress: DirectionConfig(mode: egress.mode, action: egress.action, unowned: egress.unowned, checks: []),
                    ingress: DirectionConfig(mode: ingress.mode, action: .drop, unowned: .pass, checks: ingress.checks)))
            }
            fabrics.append(FabricEntry(
                id: fabricID, name: fabric.name, redirectIfindex: redirect?.index ?? 0, redirectInterface: redirect?.name))
        }
        if interfaces.count > ABILimits.maxInterfaces {
            problems.append(source.diagnostic(
                "fabrics", "\(interfaces.count) interfaces exceed the limit of \(ABILimits.maxInterfaces)"))
        }

        // Prefixes: owner and exempt merged so one lookup answers both.
        let prefixes = mergePrefixes(policy)
        for family in [IPAddress.Family.ipv4, .ipv6] {
            let count = prefixes.count { $0.prefix.family == family }
            if count > ABILimits.maxPrefixes {
                problems.append(source.diagnostic(
                    "fabrics", "\(count) \(family) prefix entries exceed the limit of \(ABILimits.maxPrefixes)"))
            }
            // One hash table per length, probed in turn (fabricguard_abi.h, "Prefixes").
            let lengths = Set(prefixes.lazy.filter { $0.prefix.family == family }.map(\.prefix.length)).sorted()
            if lengths.count > ABILimits.maxPrefixLengths {
                problems.append(source.diagnostic(
                    "fabrics", "\(family) prefixes (exempt ones included) use \(lengths.count) distinct lengths, more than the \(ABILimits.maxPrefixLengths) the datapath supports: /\(lengths.map(String.init).joined(separator: ", /"))"))
            }
        }

        // Local addresses: owner and redirect target; warnings for the suspicious ones.
        let table = MergedLookup(prefixes)
        let (locals, localWarnings) = localAddresses(policy, host: host, fabrics: fabrics, table: table)
        for index in interfaces.indices {
            interfaces[index].fastSources = fastSources(for: interfaces[index], host: host, table: table)
        }
        warnings += localWarnings
        if locals.count > ABILimits.maxLocalAddresses {
            problems.append(source.diagnostic(
                "fabrics", "\(locals.count) owned local addresses exceed the limit of \(ABILimits.maxLocalAddresses)"))
        }

        guard problems.isEmpty else { throw PolicyError(file: source.file, diagnostics: problems) }
        interfaces.sort { $0.ifindex < $1.ifindex }
        let plan = MapPlan(interfaces: interfaces, fabrics: fabrics, prefixes: prefixes, locals: locals, events: policy.events)
        return Compilation(plan: plan, warnings: warnings)
    }

    /// Stable counter slots: known names keep theirs, new names get the lowest never-used slot.
    struct SlotAllocator {
        var taken: [String: UInt32]
        var used: Set<UInt32>

        init(taken: [String: UInt32]) {
            self.taken = taken
            used = Set(taken.values)
        }

        mutating func slot(for name: String) -> UInt32? {
            if let slot = taken[name] { return slot }
            guard let free = (0..<UInt32(ABILimits.maxInterfaces)).first(where: { !used.contains($0) }) else { return nil }
            taken[name] = free
            used.insert(free)
            return free
        }
    }

    /// The longest match among `mergePrefixes`' entries, for the host's few
    /// addresses: a binary search per prefix length in use instead of a trie
    /// of every prefix (at a million, building one cost more time and memory
    /// than the rest of the compile).
    struct MergedLookup {
        let entries: [PrefixEntry]
        /// The lengths in use per family, longest first.
        let v4Lengths: [Int]
        let v6Lengths: [Int]

        /// `entries` sorted as `mergePrefixes` returns them.
        init(_ entries: [PrefixEntry]) {
            self.entries = entries
            var v4 = Set<Int>(), v6 = Set<Int>()
            for entry in entries {
                if entry.prefix.family == .ipv4 { v4.insert(entry.prefix.length) } else { v6.insert(entry.prefix.length) }
            }
            v4Lengths = v4.sorted(by: >)
            v6Lengths = v6.sorted(by: >)
        }

        func longestMatch(_ address: IPAddress) -> PrefixEntry? {
            for length in address.family == .ipv4 ? v4Lengths : v6Lengths {
                let wanted = IPPrefix(covering: address, length: length)
                var low = 0, high = entries.count
                while low < high {
                    let middle = (low + high) / 2
                    if entries[middle].prefix < wanted { low = middle + 1 } else { high = middle }
                }
                if low < entries.count, entries[low].prefix == wanted { return entries[low] }
            }
            return nil
        }
    }

    /// For every prefix P written as an owner or exempt prefix, the owner of the
    /// longest owner prefix containing P and whether any exempt prefix contains
    /// P. Because the longest match for an address A in this merged set is the
    /// deepest written prefix containing A, its entry is exactly (owner(A), exempt(A)).
    static func mergePrefixes(_ policy: Policy) -> [PrefixEntry] {
        // Sorted once and merged in place in one pass: no hashing of a million
        // prefixes, and no second array beside the one returned. Until merged,
        // an entry is one listing: an owner's (`fabricID`) or an exempt one.
        var entries: [PrefixEntry] = []
        entries.reserveCapacity(policy.fabrics.reduce(policy.exempt.count) { $0 + $1.prefixes.count })
        for (index, fabric) in policy.fabrics.enumerated() {
            for prefix in fabric.prefixes { entries.append(PrefixEntry(prefix: prefix, fabricID: UInt32(index + 1), exempt: false)) }
        }
        for prefix in policy.exempt { entries.append(PrefixEntry(prefix: prefix, fabricID: 0, exempt: true)) }
        entries.sort { $0.prefix < $1.prefix }

        var enclosingOwners: [(prefix: IPPrefix, fabric: UInt32)] = []
        var enclosingExempt: [IPPrefix] = []
        var merged = 0
        var next = 0
        while next < entries.count {
            let prefix = entries[next].prefix
            var owned: UInt32?
            var listedExempt = false
            while next < entries.count, entries[next].prefix == prefix {
                if entries[next].exempt { listedExempt = true } else { owned = entries[next].fabricID }
                next += 1
            }
            while let top = enclosingOwners.last, !top.prefix.overlaps(prefix) { enclosingOwners.removeLast() }
            while let top = enclosingExempt.last, !top.overlaps(prefix) { enclosingExempt.removeLast() }
            let owner = owned ?? enclosingOwners.last?.fabric ?? 0
            // `merged` trails `next`: this overwrites a listing already read.
            entries[merged] = PrefixEntry(prefix: prefix, fabricID: owner, exempt: listedExempt || !enclosingExempt.isEmpty)
            merged += 1
            if let owned { enclosingOwners.append((prefix, owned)) }
            if listedExempt { enclosingExempt.append(prefix) }
        }
        entries.removeLast(entries.count - merged)
        return entries
    }

    /// The host addresses that pass when they leave `entry` (docs/decision.md, egress
    /// steps 4-5: exempt, or owned by the interface's fabric), the interface's
    /// own first, at most `ABILimits.fastSources`. The programs answer these
    /// from the interface's entry; the verdict is the one the full decision gives.
    /// Ingress uses the list too: a destination in it with reason ok is a local
    /// address of the interface's own fabric, so it needs no local lookup.
    static func fastSources(for entry: InterfaceEntry, host: HostInventory, table: MergedLookup) -> [FastSource] {
        // A fixed order whatever order the inventory lists things in: the same plan, the same bytes.
        let links = host.interfaces.sorted { ($0.name == entry.name ? 0 : 1, $0.index) < ($1.name == entry.name ? 0 : 1, $1.index) }
        var sources: [FastSource] = []
        for link in links {
            for hostAddress in link.addresses.sorted(by: { $0.address < $1.address })
            where !sources.contains(where: { $0.address == hostAddress.address }) {
                guard sources.count < ABILimits.fastSources else { return sources }
                let match = table.longestMatch(hostAddress.address)
                if match?.exempt == true {
                    sources.append(FastSource(address: hostAddress.address, reason: .exempt))
                } else if let owner = match?.fabricID, owner != 0, owner == entry.fabricID {
                    sources.append(FastSource(address: hostAddress.address, reason: .ok))
                }
            }
        }
        return sources
    }

    /// `table` is the merged prefix table: its longest match gives owner and exemption at once.
    static func localAddresses(
        _ policy: Policy, host: HostInventory, fabrics: [FabricEntry], table: MergedLookup
    ) -> ([LocalEntry], [PolicyDiagnostic]) {

        var byAddress: [IPAddress: (entry: LocalEntry, serves: Bool)] = [:]
        var warnings: [PolicyDiagnostic] = []
        for link in host.interfaces {
            let linkFabric = policy.fabrics.firstIndex { $0.interfaces.contains(link.name) }
            for hostAddress in link.addresses {
                let address = hostAddress.address
                let match = table.longestMatch(address)
                let owner = match?.fabricID ?? 0
                if let linkFabric {
                    let field = "fabrics[\(linkFabric)].interfaces[\(policy.fabrics[linkFabric].interfaces.firstIndex(of: link.name)!)]"
                    let fabricName = policy.fabrics[linkFabric].name
                    if owner == 0, match?.exempt != true {
                        warnings.append(policy.source.diagnostic(
                            field, "address \(address) on '\(link.name)' (fabric '\(fabricName)') is owned by no fabric; its traffic counts as unowned_source"))
                    } else if owner != 0, owner != UInt32(linkFabric + 1) {
                        warnings.append(policy.source.diagnostic(
                            field, "address \(address) on '\(link.name)' (fabric '\(fabricName)') is owned by fabric '\(fabrics[Int(owner) - 1].name)'"))
                    }
                }
                guard owner != 0 else { continue }
                let ownerFabric = policy.fabrics[Int(owner) - 1]
                let holderServes = ownerFabric.interfaces.contains(link.name) && link.usable
                let entry = LocalEntry(
                    address: address, interface: link.name, fabricID: owner,
                    redirectIfindex: holderServes ? link.index : fabrics[Int(owner) - 1].redirectIfindex)
                // An address held twice: prefer a holder that can carry it, then the lowest ifindex.
                if let existing = byAddress[address], existing.serves || !holderServes { continue }
                byAddress[address] = (entry, holderServes)
            }
        }
        return (byAddress.values.map(\.entry).sorted { $0.address < $1.address }, warnings)
    }
}
