// libFuzzer entry point for FuzzHarness.policy (built by scripts/fuzz with
// --sanitize=fuzzer: libFuzzer supplies main; built plainly this does nothing).
import FabricFuzz

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ start: UnsafeRawPointer?, _ count: Int) -> CInt {
    FuzzHarness.policy(UnsafeRawBufferPointer(start: start, count: count))
    return 0
}
