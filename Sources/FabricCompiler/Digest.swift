import Crypto

/// How the project names a SHA-256 (swift-crypto's): `sha256:` and the
/// digest in lowercase hex, the form `check`, `apply` and `status` print.
public enum Digest {
    public static func sha256(_ bytes: [UInt8]) -> [UInt8] { Array(SHA256.hash(data: bytes)) }

    public static func text(_ digest: [UInt8]) -> String {
        let digits = Array("0123456789abcdef")
        return "sha256:" + String(digest.flatMap { [digits[Int($0 >> 4)], digits[Int($0 & 0xf)]] })
    }
}
