import FabricPolicy
import Testing

@Suite("Addresses and prefixes")
struct IPPrefixTests {
    @Test(arguments: ["10.1.2.3", "0.0.0.0", "255.255.255.255", "fd00:a::10", "::", "::1", "fe80::1:2", "2001:db8::ffff:0:1"])
    func addressesRoundTrip(_ text: String) throws {
        let address = try #require(IPAddress(text))
        #expect(address.description == text)
        #expect(IPAddress(bytes: address.bytes) == address)
    }

    @Test func addressValues() {
        #expect(IPAddress("10.1.2.3") == .v4(0x0a01_0203))
        #expect(IPAddress("::ffff:10.1.2.3")?.mappedV6 == IPAddress("10.1.2.3")?.mappedV6)
        #expect(IPAddress("1.2.3") == nil)
        #expect(IPAddress("01.2.3.4") == nil)
        #expect(IPAddress("fe80::1%eth0") == nil)
        #expect(IPAddress("10.0.0.1")! < IPAddress("::")!)
    }

    @Test func parsing() throws {
        #expect(try IPPrefix(parsing: "10.1.0.0/24").description == "10.1.0.0/24")
        #expect(try IPPrefix(parsing: "0.0.0.0/0").length == 0)
        #expect(try IPPrefix(parsing: "::/0").family == .ipv6)
        #expect(throws: IPPrefix.ParseError.hostBitsSet(suggestion: try IPPrefix(parsing: "10.1.0.0/24"))) {
            try IPPrefix(parsing: "10.1.0.1/24")
        }
        #expect(throws: IPPrefix.ParseError.lengthTooLong(length: 129, maximum: 128)) { try IPPrefix(parsing: "::/129") }
        #expect(throws: IPPrefix.ParseError.badLength("+8")) { try IPPrefix(parsing: "10.0.0.0/+8") }
        #expect(throws: IPPrefix.ParseError.missingLength("10.0.0.0")) { try IPPrefix(parsing: "10.0.0.0") }
    }

    @Test func containmentAndOverlap() throws {
        let wide = try IPPrefix(parsing: "10.0.0.0/8")
        let narrow = try IPPrefix(parsing: "10.1.0.0/16")
        let other = try IPPrefix(parsing: "11.0.0.0/8")
        #expect(wide.contains(IPAddress("10.200.0.1")!))
        #expect(!wide.contains(IPAddress("::a00:1")!))
        #expect(wide.overlaps(narrow) && narrow.overlaps(wide))
        #expect(!wide.overlaps(other))
        #expect(try IPPrefix(parsing: "::/0").overlaps(IPPrefix(parsing: "fd00::/8")))
        #expect(try !IPPrefix(parsing: "0.0.0.0/0").overlaps(IPPrefix(parsing: "::/0")))
    }
}

/// Every text a prefix is not: each must be refused, none silently read as something else.
@Suite("Prefix text that is refused")
struct LenientPrefixTests {
    @Test(arguments: [
        "10.0.0.0/08", "10.0.0.0/008", "::/00", "10.0.0.0/+8", "10.0.0.0/-8", "10.0.0.0/ 8", "10.0.0.0 /8", " 10.0.0.0/8",
        "10.0.0.0/8 ", "010.1.0.0/16", "10.01.0.0/16", "10.1.0/24", "10.1.0.0.0/24", "0x0a.1.0.0/16", "10.1.0.0/24/24",
        "10.1.0.0/", "/8", "fd00::/064", "fd00::%eth0/64", "10.1.0.0/1e1", "10.1.0.0/٨", "::ffff:010.1.0.0/128",
    ])
    func refused(_ text: String) {
        #expect(throws: IPPrefix.ParseError.self, "\(text) was accepted") { try IPPrefix(parsing: text) }
    }

    @Test func aLeadingZeroInTheLengthSaysSo() throws {
        #expect(IPPrefix.ParseError.badLength("08").description == "'08' is not a prefix length (leading zeros are not allowed)")
        #expect(throws: IPPrefix.ParseError.badLength("08")) { try IPPrefix(parsing: "10.0.0.0/08") }
        #expect(try IPPrefix(parsing: "0.0.0.0/0").length == 0)
    }
}
