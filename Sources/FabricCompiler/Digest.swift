import CLibCrypto

/// How the project names a SHA-256: `sha256:` and the digest in lowercase hex,
/// the form `check`, `apply` and `status` print.
public enum Digest {
    public static func sha256(_ bytes: [UInt8]) -> [UInt8] {
        let hash = SHA256Stream()
        hash.update(bytes)
        return hash.finish()
    }

    public static func text(_ digest: [UInt8]) -> String { "sha256:" + hex(digest) }

    /// Lowercase hex, two digits a byte (digests, and the frames events carry).
    public static func hex(_ bytes: [UInt8]) -> String {
        let digits = Array("0123456789abcdef".utf8)
        var text: [UInt8] = []
        text.reserveCapacity(bytes.count * 2)
        for byte in bytes { text += [digits[Int(byte >> 4)], digits[Int(byte & 0xf)]] }
        return String(decoding: text, as: UTF8.self)
    }
}

/// A SHA-256 fed in pieces, through libcrypto's EVP interface (OpenSSL 3).
/// EVP fails only when it cannot allocate, which Swift treats as fatal too.
final class SHA256Stream {
    private let context: OpaquePointer

    init() {
        guard let context = EVP_MD_CTX_new(), EVP_DigestInit_ex(context, EVP_sha256(), nil) == 1 else {
            fatalError("SHA-256: libcrypto could not start a digest")
        }
        self.context = context
    }

    deinit { EVP_MD_CTX_free(context) }

    func update(_ bytes: [UInt8]) {
        let done = bytes.withUnsafeBytes { EVP_DigestUpdate(context, $0.baseAddress, $0.count) }
        precondition(done == 1, "SHA-256: libcrypto refused an update")
    }

    /// The digest; the stream is spent.
    func finish() -> [UInt8] {
        var digest = [UInt8](repeating: 0, count: Int(EVP_MAX_MD_SIZE))
        var length: UInt32 = 0
        let done = EVP_DigestFinal_ex(context, &digest, &length)
        precondition(done == 1 && length == 32, "SHA-256: libcrypto could not finish the digest")
        return Array(digest.prefix(Int(length)))
    }
}
