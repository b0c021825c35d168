import ArgumentParser
import CFabricABI
import FabricAgent
import FabricCompiler
import FabricHost
import FabricPolicy

/// --policy, --host and --allow-missing: everything needed to compile a plan.
struct PolicyOptions: ParsableArguments {
    @Option(name: .long, help: ArgumentHelp("The policy file (YAML).", valueName: "file"))
    var policy: String

    @Option(
        name: .long,
        help: ArgumentHelp(
            "Judge against this inventory (from `fabricguard inventory --json`) instead of this host.",
            valueName: "file"))
    var host: String?

    @Flag(name: .long, help: "Accept fabric interfaces that are not on the host (they are skipped until they appear).")
    var allowMissing = false

    func loadPolicy() throws(CommandFailure) -> Policy { try Self.loadPolicy(path: policy) }

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

    func agent() -> Agent { Agent(datapath: LinuxDatapath(pinDirectory: pinDir)) }
}

extension AgentError {
    /// Policy problems are the caller's (2); kernel failures are runtime failures (1).
    var failure: CommandFailure {
        switch self {
        case .policy(let error): CommandFailure(status: .usageOrPolicy, message: error.description, diagnostics: error.diagnostics)
        case .kernel: CommandFailure(status: .runtimeFailure, message: description)
        }
    }
}
