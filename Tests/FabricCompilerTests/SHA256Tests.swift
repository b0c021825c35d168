import FabricCompiler
import Testing

@Suite("SHA256")
struct SHA256Tests {
    private func digest(_ text: String) -> String {
        SHA256.hex(SHA256.hash(Array(text.utf8)))
    }

    /// A message whose bytes all differ within any 64-byte window, so a block
    /// boundary handled at the wrong offset changes the digest.
    private static func pattern(_ count: Int) -> [UInt8] {
        (0..<count).map { UInt8(truncatingIfNeeded: $0 &* 7 &+ 3) }
    }

    @Test("FIPS 180-4 / NIST example vectors")
    func nistVectors() {
        #expect(digest("") == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        #expect(digest("abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        #expect(
            digest("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq")
                == "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1")
        #expect(
            digest(
                "abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmnhijklmno"
                    + "ijklmnopjklmnopqklmnopqrlmnopqrsmnopqrstnopqrstu")
                == "cf5b16a778af8380036ce59e7b0492370b249b11e8f07a51afac45037afee9d1")
    }

    @Test("one million 'a'")
    func millionA() {
        let expected = "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0"
        #expect(SHA256.hex(SHA256.hash([UInt8](repeating: 0x61, count: 1_000_000))) == expected)

        // Same message fed in uneven chunks, so whole blocks are also taken from a part-filled buffer.
        var hasher = SHA256()
        let chunk = [UInt8](repeating: 0x61, count: 997)
        var remaining = 1_000_000
        while remaining > 0 {
            let take = min(remaining, chunk.count)
            hasher.update(chunk[..<take])
            remaining -= take
        }
        #expect(SHA256.hex(hasher.finalize()) == expected)
    }

    @Test("lengths around the padding boundaries")
    func paddingBoundaries() {
        // Digests of `pattern(n)`, computed once with an independent implementation.
        let expected: [Int: String] = [
            55: "e7313d333c272e639f790978283f9eb392e843d0f29b7016828bb1daa4aac70b",
            56: "4324d65f3c103567f5589c710bc08f8523f929a9272e3af36fc968e52abc6c27",
            57: "35df609437dcfea3279283ab79fd554e2bf78f8f7ae2de532d8ee300b09e8f73",
            63: "81c80242132f230c3bd41b3e63bbcff16107339549214a99614ff26664625055",
            64: "39e3d7b6b5d075d37d053ad89b24b41bef4f3c29760c84447cab3f3be1882241",
            65: "aacca6ff74fdbb296d165a45cecfa04e5127bc008770fbbdd48006f2d2fae95e",
            119: "9ce7368e4daf32341631b492e80359dc9f594b48453cd0dd5bf0b19279cc177e",
            120: "7836b787757e95e58b3ca5aec90b1b004e8deba1e50e9675af9cabf1a13a04b5",
            127: "a8d23e75d936f303d248888d9b165ee543f4cbafcad3c9dd2a79bd84faa11d07",
            128: "d2742f1f4ac6bb7ca2b239ee18402ba8b3f9f8e652d2a72973c2b9ba11c08cf6",
            131: "4c14830d5f17552093a46de0f6884f8f3010789462dab3db3d1cc679575e01ad",
        ]
        for (count, hex) in expected {
            #expect(SHA256.hex(SHA256.hash(Self.pattern(count))) == hex, "length \(count)")
        }
    }

    @Test("split updates equal the one-shot digest at every offset")
    func incrementalSplits() {
        let message = Self.pattern(131)
        let oneShot = SHA256.hash(message)
        #expect(SHA256.hex(oneShot) == "4c14830d5f17552093a46de0f6884f8f3010789462dab3db3d1cc679575e01ad")

        for split in 0...130 {
            // Contiguous path: whole blocks are compressed straight from the caller's buffer.
            var contiguous = SHA256()
            contiguous.update(message[..<split])
            contiguous.update(message[split...])
            #expect(contiguous.finalize() == oneShot, "contiguous split at \(split)")

            // Raw-buffer path.
            var raw = SHA256()
            message.withUnsafeBytes { bytes in
                raw.update(UnsafeRawBufferPointer(rebasing: bytes[..<split]))
                raw.update(UnsafeRawBufferPointer(rebasing: bytes[split...]))
            }
            #expect(raw.finalize() == oneShot, "raw split at \(split)")

            // A lazy sequence has no contiguous storage, so this takes the byte-at-a-time path.
            var lazy = SHA256()
            lazy.update(message[..<split].lazy.map { $0 })
            lazy.update(message[split...].lazy.map { $0 })
            #expect(lazy.finalize() == oneShot, "byte-wise split at \(split)")
        }
    }

    @Test("hex is lowercase, two digits per byte")
    func hexFormatting() {
        #expect(SHA256.hex([0x00, 0x0f, 0xa0, 0xff]) == "000fa0ff")
        #expect(SHA256.hex([]) == "")
        #expect(SHA256.hash([UInt8]()).count == 32)
    }
}
