/// Link-layer addresses as the inventory writes them: lowercase hex byte pairs joined by colons.
public enum LinkAddress {
    /// Linux's MAX_ADDR_LEN.
    static let maximumLength = 32

    public static func format<Bytes: Collection<UInt8>>(_ bytes: Bytes) -> String {
        let digits = Array("0123456789abcdef")
        return bytes.map { String([digits[Int($0 >> 4)], digits[Int($0 & 0xf)]]) }.joined(separator: ":")
    }

    /// Lowercases a well-formed address so files written by hand compare equal to live ones.
    static func normalize(_ text: String) -> String? {
        let parts = text.split(separator: ":", omittingEmptySubsequences: false)
        guard (1...maximumLength).contains(parts.count) else { return nil }
        var bytes: [UInt8] = []
        for part in parts {
            guard part.utf8.count == 2, part.allSatisfy(\.isHexDigit), let byte = UInt8(part, radix: 16) else {
                return nil
            }
            bytes.append(byte)
        }
        return format(bytes)
    }
}
