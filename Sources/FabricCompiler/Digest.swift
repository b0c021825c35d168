import Crypto

/// How the project names a SHA-256 (swift-crypto's): `sha256:` and the
/// digest in lowercase hex, the form `check`, `apply` and `status` print.
public enum Digest {
    public static func sha256(_ bytes: [UInt8]) -> [UInt8] { Array(SHA256.hash(data: bytes)) }

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
