import ArgumentParser
import CMalloc
import FabricBPF
import Foundation

#if canImport(Glibc)
import Glibc
#endif

// Exit status is part of the contract (docs/cli.md): 0 success, 1 runtime
// failure, 2 usage or policy error. ArgumentParser's own usage errors exit 64,
// so the mapping happens here, once.
func exitReporting(_ error: any Error) -> Never {
    if let failure = error as? CommandFailure {
        if !failure.message.isEmpty { FileHandleOutput.standardError(failure.message) }
        // A kernel failure's explanation (a verifier log, a netlink message) is in libbpf's lines.
        let libbpf = LibBPFLog.drain().filter { !$0.isEmpty }
        if failure.status == .runtimeFailure, !libbpf.isEmpty {
            FileHandleOutput.standardError((["libbpf said:"] + libbpf.suffix(40).map { "  " + $0 }).joined(separator: "\n"))
        }
        exit(failure.status.rawValue)
    }
    let code = FabricGuard.exitCode(for: error)
    if code == .success {
        print(FabricGuard.fullMessage(for: error))
        exit(0)
    }
    FileHandleOutput.standardError(FabricGuard.fullMessage(for: error))
    exit(code == .failure ? ExitStatus.runtimeFailure.rawValue : ExitStatus.usageOrPolicy.rawValue)
}

// Large buffers (a million-prefix policy's arrays, tens of MB each) come from
// and go back to the kernel: glibc would otherwise raise its mmap threshold
// after the first one is freed and serve the next ones from a heap it never
// shrinks, which kept 40 MB more resident at the peak of a 1M-prefix apply
// (249 → 210 MB, measured). A fixed threshold also turns that adjustment off.
#if canImport(Glibc)
_ = mallopt(M_MMAP_THRESHOLD, 1 << 20)
#endif
LibBPFLog.capture()
do {
    var command = try FabricGuard.parseAsRoot()
    if let daemon = command as? Run {
        // The one verb that lives in Swift concurrency (its loop, signals and
        // services); called by its own name so that ArgumentParser's synchronous
        // `run()` cannot win the overload.
        try await daemon.runDaemon()
        exit(0)
    }
    try command.run()
} catch {
    exitReporting(error)
}
