import ArgumentParser
import CFabricABI
import FabricAgent
import FabricCompiler
import FabricHost
import FabricNetlink
import FabricPolicy
import FabricReference
import FabricSystem
import Foundation

/// --policy, --host and --allow-missing: everything needed to compile a plan.
struct PolicyOptions: ParsableArguments {
    @Option(name: .long, help: ArgumentHelp("The policy file (YAML), or - for standard input.", valueName: "file"))
    var policy: String

    @Option(
        name: .long,
        help: ArgumentHelp(
            "Judge against this inventory (from `fabricguard inventory --json`) instead of this host; - reads standard input.",
            valueName: "file"))
    var host: String?

    @Flag(name: .long, help: "Accept fabric interfaces that are not on the host (they are skipped until they appear).")
    var allowMissing = false

    func loadPolicy() throws(CommandFailure) -> Policy {
        // Standard input holds one file: the second reader would see it empty.
        if policy == "-" && host == "-" {
            throw CommandFailure(status: .usageOrPolicy, message: "--policy - and --host -: standard input can hold only one of them")
        }
        return try Self.loadPolicy(path: policy)
    }

    /// Loads a policy file; its problems are the caller's (exit 2), listed for --json too.
    static func loadPolicy(path: String) throws(CommandFailure) -> Policy {
        do {
            return try PolicyLoader.load(path: path)
        } catch {
            throw CommandFailure(status: .usageOrPolicy, message: error.description, diagnostics: error.diagnostics)
        }
    }

    func loadHost() throws(CommandFailure) -> HostInventory {
        do {
            if let host { return try InventoryFile(path: host).inventory() }
            return try LiveHost().inventory()
        } catch let error as HostInventoryError {
            // A bad --host file is the caller's input; an unreadable live host is a runtime failure.
            throw CommandFailure(
                status: host == nil ? .runtimeFailure : .usageOrPolicy, message: "\(error)", diagnostics: error.diagnostics)
        } catch {
            throw CommandFailure(status: host == nil ? .runtimeFailure : .usageOrPolicy, message: "\(error)")
        }
    }

    /// Loads, validates and compiles, or fails with every problem listed.
    func compile() throws(CommandFailure) -> (Policy, HostInventory, Compilation) {
        let policy = try loadPolicy()
        let host = try loadHost()
        do {
            let compilation = try PolicyCompiler.compile(policy, host: host, options: CompileOptions(allowMissing: allowMissing))
            return (policy, host, compilation)
        } catch {
            throw CommandFailure(status: .usageOrPolicy, message: error.description, diagnostics: error.diagnostics)
        }
    }
}

/// What `apply` and `run` enforce: the policy file, how strict about missing
/// interfaces, and where ingress hangs.
struct EnforceOptions: ParsableArguments {
    @Option(name: .long, help: ArgumentHelp("The policy file (YAML); `run` re-reads it on SIGHUP.", valueName: "file"))
    var policy: String

    @Flag(name: .long, help: "Accept fabric interfaces that are not on the host (they are skipped until they appear).")
    var allowMissing = false

    @Option(name: .long, help: ArgumentHelp(
            "Ingress hook: auto (tc ingress on veth, where XDP costs more; else XDP in driver mode, else tc), "
                + "xdp (driver mode, else generic, else tc) or tc.", valueName: "auto|xdp|tc"))
    var ingressHook: IngressHookPreference = .auto

    @Option(
        name: .long,
        help: ArgumentHelp(
            "How the tc hooks attach: tcx links where the kernel has them (6.6+), else clsact filters (auto); or force one.",
            valueName: "auto|tcx|clsact"))
    var tcAttach: TCAttachPreference = .auto

    @Option(
        name: .long,
        help: ArgumentHelp(
            "tcx: run fabricguard's tc programs before (first) or after (last) the other programs on the hook (default: first, or the running policy's order).",
            valueName: "first|last"))
    var tcOrder: TCOrder?

    @Flag(name: .long, help: "Apply even a policy that would drop your SSH session or the default route's traffic (says what it overrode).")
    var force = false

    /// The lockout guard for `verb`: refuses a plan under which the reference
    /// path drops a protected flow of this host, or with --force lets it pass
    /// and says so on stderr.
    func lockoutGuard(_ verb: String, host: HostInventory) throws(CommandFailure) -> @Sendable (MapPlan) -> String? {
        let flows: [ProtectedFlow]
        do {
            flows = try LiveHost().protectedFlows(
                sshConnection: ProcessInfo.processInfo.environment["SSH_CONNECTION"], interfaces: host.interfaces)
        } catch {
            guard force else {
                throw CommandFailure(
                    status: .runtimeFailure, message: "\(verb): read the routes the lockout guard checks: \(error) (--force skips the guard)")
            }
            flows = []
        }
        let (force, policy) = (force, policy)
        return { plan in
            let cuts = LockoutGuard.cuts(flows, plan: plan)
            guard !cuts.isEmpty else { return nil }
            if force {
                for cut in cuts { FileHandleOutput.standardError("\(verb): --force: applying although \(cut)") }
                return nil
            }
            return "\(verb) \(policy): refused: the policy would cut traffic this host depends on\n  "
                + cuts.joined(separator: "\n  ") + "\nfix the policy (an exempt prefix, management, or audit mode), or apply with --force"
        }
    }

    /// The policy file's absolute path, as records and the daemon keep it.
    var absolutePolicyPath: String {
        policy.hasPrefix("/") ? policy : FileManager.default.currentDirectoryPath + "/" + policy
    }
}

struct OutputOptions: ParsableArguments {
    @Flag(name: .long, help: "Print JSON for scripts instead of text.")
    var json = false
}

/// --pin-dir: where an instance keeps its pins (one per network namespace in tests).
struct PinOptions: ParsableArguments {
    @Option(
        name: .long,
        help: ArgumentHelp("Where this instance's pins live (one directory per instance).", valueName: "directory"))
    var pinDir = FG_PIN_DIR_DEFAULT

    static let defaultPinDir = FG_PIN_DIR_DEFAULT

    @Option(
        name: .long,
        help: ArgumentHelp(
            "Where the daemon of this pin directory keeps its pid file and sockets (default: /run/fabricguard/ plus the pin directory's name).",
            valueName: "directory"))
    var runtimeDir: String?

    func agent() -> Agent { Agent(datapath: LinuxDatapath(pinDirectory: pinDir)) }

    var runtime: RuntimeDirectory { RuntimeDirectory(pinDirectory: pinDir, override: runtimeDir) }

    /// Makes the pin directory (mounting bpffs when it is not) and takes its
    /// lock for a one-shot writer; `verb` names the command in errors. A
    /// directory this call made is removed again on release if nothing was
    /// pinned in it (an apply refused for its policy leaves no trace).
    func lockForWrite(_ verb: String) throws(CommandFailure) -> PinLock {
        do {
            let existed = FileManager.default.fileExists(atPath: pinDir)
            if let notice = try PinOwnership.makePinDirectory(pinDir) { FileHandleOutput.standardError("\(verb): \(notice)") }
            let lock = try PinOwnership.lockForWrite(pinDirectory: pinDir, runtime: runtime, verb: verb)
            return PinLock(lock: lock, removeIfEmpty: existed ? nil : pinDir)
        } catch {
            throw CommandFailure(status: .runtimeFailure, message: "\(error)")
        }
    }
}

/// A held pin-directory lock, and the directory to remove when it stayed empty.
struct PinLock {
    let lock: DirectoryLock
    let removeIfEmpty: String?

    func release() {
        if let removeIfEmpty { rmdir(removeIfEmpty) }
        lock.release()
    }
}

extension AgentError {
    /// Policy problems are the caller's (2); kernel failures are runtime failures (1).
    var failure: CommandFailure {
        switch self {
        case .policy(let error): CommandFailure(status: .usageOrPolicy, message: error.description, diagnostics: error.diagnostics)
        case .kernel: CommandFailure(status: .runtimeFailure, message: description + permissionHint(self))
        case .refused: CommandFailure(status: .usageOrPolicy, message: description)
        }
    }
}

/// For an error that is a refused permission (EPERM, EACCES): which capability
/// this process lacks, so that "Operation not permitted" names its cause.
func permissionHint(_ error: any Error) -> String {
    var cause: any Error = error
    if case .kernel(_, let inner) = error as? AgentError { cause = inner }
    guard let system = cause as? SystemError, system.errno == EPERM || system.errno == EACCES,
          let hint = Capability.missingHint() else { return "" }
    return " (\(hint))"
}
