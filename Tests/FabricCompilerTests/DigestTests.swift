import FabricCompiler
import Testing

@Suite("Digest")
struct DigestTests {
    @Test func namesASHA256AsTheCommandsPrintIt() {
        // FIPS 180-2's "abc".
        #expect(Digest.text(Digest.sha256(Array("abc".utf8)))
            == "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        #expect(Digest.text([0x00, 0x0f, 0xa0, 0xff]) == "sha256:000fa0ff")
        // FIPS 180-2's million "a": many blocks (the plan's digest, streamed, has its golden value in CompilerTests).
        #expect(Digest.hex(Digest.sha256([UInt8](repeating: UInt8(ascii: "a"), count: 1_000_000)))
            == "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0")
    }
}
