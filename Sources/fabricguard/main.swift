import ArgumentParser
import FabricBPF

#if canImport(Glibc)
import Glibc
#endif

// Exit status is part of the contract (docs/cli.md): 0 success, 1 runtime
// failure, 2 usage or policy error. ArgumentParser's own usage errors exit 64,
// so the mapping happens here, once.
LibBPFLog.capture()
do {
    var command = try FabricGuard.parseAsRoot()
    // The daemon is the one verb that lives in Swift concurrency (its loop, signals
    // and services); calling it by its own name avoids ArgumentParser's sync
    // `run()` winning the overload on an existential.
    if let daemon = command as? Run {
        try await daemon.runDaemon()
    } else {
        try command.run()
    }
} catch let failure as CommandFailure {
    if !failure.message.isEmpty { FileHandleOutput.standardError(failure.message) }
    // A kernel failure's explanation (a verifier log, a netlink message) is in libbpf's lines.
    let libbpf = LibBPFLog.drain().filter { !$0.isEmpty }
    if failure.status == .runtimeFailure, !libbpf.isEmpty {
        FileHandleOutput.standardError((["libbpf said:"] + libbpf.suffix(40).map { "  " + $0 }).joined(separator: "\n"))
    }
    exit(failure.status.rawValue)
} catch {
    let code = FabricGuard.exitCode(for: error)
    if code == .success {
        print(FabricGuard.fullMessage(for: error))
        exit(0)
    }
    FileHandleOutput.standardError(FabricGuard.fullMessage(for: error))
    exit(code == .failure ? ExitStatus.runtimeFailure.rawValue : ExitStatus.usageOrPolicy.rawValue)
}
