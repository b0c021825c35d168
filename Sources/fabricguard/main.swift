import ArgumentParser

#if canImport(Glibc)
import Glibc
#endif

// Exit status is part of the contract (SPEC section 5): 0 success, 1 runtime
// failure, 2 usage or policy error. ArgumentParser's own usage errors exit 64,
// so the mapping happens here, once.
do {
    var command = try FabricGuard.parseAsRoot()
    try command.run()
} catch let failure as CommandFailure {
    if !failure.message.isEmpty { FileHandleOutput.standardError(failure.message) }
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
