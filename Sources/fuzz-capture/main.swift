// libFuzzer entry point for FuzzHarness.capture (built by scripts/fuzz with
// --sanitize=fuzzer: libFuzzer supplies main; built plainly this does nothing).
import FabricFuzz

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ start: UnsafeRawPointer?, _ count: Int) -> CInt {
    FuzzHarness.capture(UnsafeRawBufferPointer(start: start, count: count))
    return 0
}
