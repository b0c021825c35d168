import FabricCompiler
import Testing

@Suite("Digest")
struct DigestTests {
    @Test func namesASHA256AsTheCommandsPrintIt() {
        // FIPS 180-2's "abc".
        #expect(Digest.text(Digest.sha256(Array("abc".utf8)))
            == "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        #expect(Digest.text([0x00, 0x0f, 0xa0, 0xff]) == "sha256:000fa0ff")
    }
}
