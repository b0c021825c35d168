/// Linux interface names, checked by the kernel's own rule (dev_valid_name), so that neither a
/// policy nor a host file can name an interface that could not exist.
public enum InterfaceName {
    /// Why `name` cannot be an interface name, or nil if it can.
    public static func problem(_ name: String) -> String? {
        let bytes = Array(name.utf8)
        if bytes.isEmpty { return "empty" }
        // IFNAMSIZ is 16, with the terminating NUL.
        if bytes.count > 15 { return "longer than 15 bytes" }
        if name == "." || name == ".." { return "reserved name" }
        if bytes.contains(where: { $0 == UInt8(ascii: "/") || $0 == UInt8(ascii: ":") }) {
            return "contains '/' or ':'"
        }
        // The kernel's isspace() also counts 0xa0 (Latin-1 no-break space), so a UTF-8 name
        // holding that byte (U+00A0, but also 'à') is refused too.
        if bytes.contains(where: { $0 == 0 || $0 == 0x20 || (0x09...0x0d).contains($0) || $0 == 0xa0 }) {
            return "contains whitespace or NUL"
        }
        return nil
    }
}
