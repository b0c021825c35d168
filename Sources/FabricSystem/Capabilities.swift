#if canImport(Glibc)
import Glibc
#endif

/// The Linux capabilities fabricguard's kernel verbs need, and which of them
/// this process lacks: the permission errors name the missing one instead
/// of a bare "Operation not permitted".
public enum Capability: Int, CaseIterable, Sendable, CustomStringConvertible {
    /// Attaching tc filters and XDP programs, netlink changes.
    case netAdmin = 12
    case dacOverride = 1
    case sysAdmin = 21
    /// Creating maps and loading programs.
    case bpf = 39
    /// Not needed; with it the verifier allows pointer arithmetic the programs
    /// then use for shorter paths (globals.h, fg_perfmon).
    case perfmon = 38

    public var description: String {
        switch self {
        case .netAdmin: "CAP_NET_ADMIN"
        case .dacOverride: "CAP_DAC_OVERRIDE"
        case .sysAdmin: "CAP_SYS_ADMIN"
        case .bpf: "CAP_BPF"
        case .perfmon: "CAP_PERFMON"
        }
    }

    /// Whether the verifier will grant this process allow_ptr_leaks and
    /// bypass_spec_v1 (the kernel's perfmon_capable(): CAP_PERFMON or CAP_SYS_ADMIN).
    public static var perfmonCapable: Bool {
        guard let have = effective() else { return false }
        return have.contains(.perfmon) || have.contains(.sysAdmin)
    }

    /// What `apply`, `run` and `unload` need (docs/cli.md, "Privileges"). Not
    /// CAP_PERFMON: the programs pass the verifier without allow_ptr_leaks.
    public static let kernelVerbs: [Capability] = [.bpf, .netAdmin]

    /// The effective set, from /proc/self/status (CapEff); nil when unreadable.
    public static func effective() -> Set<Capability>? {
        guard let status = try? TextFile.read("/proc/self/status", maximumSize: 1 << 16),
              let line = status.split(separator: "\n").first(where: { $0.hasPrefix("CapEff:") }),
              let mask = UInt64(line.dropFirst("CapEff:".count).trimmingWhitespace, radix: 16)
        else { return nil }
        return Set(allCases.filter { mask & (1 << UInt64($0.rawValue)) != 0 })
    }

    /// "(needs CAP_BPF and CAP_NET_ADMIN; this process lacks CAP_BPF)", or nil
    /// when nothing of `needed` is missing (CAP_SYS_ADMIN stands in for CAP_BPF).
    public static func missingHint(_ needed: [Capability] = kernelVerbs) -> String? {
        guard let have = effective() else { return nil }
        let missing = needed.filter { capability in
            !have.contains(capability) && !(capability == .bpf && have.contains(.sysAdmin))
        }
        guard !missing.isEmpty else { return nil }
        let all = needed.map(\.description)
        let list = all.count > 1 ? all.dropLast().joined(separator: ", ") + " and " + all.last! : all[0]
        return "needs \(list); this process lacks \(missing.map(\.description).joined(separator: ", "))"
    }
}

extension Substring {
    fileprivate var trimmingWhitespace: String {
        String(drop { $0.isWhitespace }.reversed().drop { $0.isWhitespace }.reversed())
    }
}
