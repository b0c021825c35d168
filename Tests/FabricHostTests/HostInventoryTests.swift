#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
#if canImport(Glibc)
import Glibc
#endif
import FabricHost
import FabricPolicy
import Testing

private func address(_ text: String, _ length: Int) -> HostAddress {
    HostAddress(IPAddress(text)!, prefixLength: length)
}

private let sample = HostInventory(
    hostname: "storage-01",
    interfaces: [
        HostInterface(
            name: "ib0", index: 7, up: true, running: false, mac: nil,
            addresses: [address("fd00:a::5", 64), address("10.1.0.5", 24)]),
        HostInterface(
            name: "lo", index: 1, up: true, running: true, mac: "00:00:00:00:00:00",
            addresses: [address("::1", 128), address("127.0.0.1", 8)]),
    ])

private func encode(_ inventory: HostInventory) throws -> String {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.sortedKeys, .prettyPrinted]
    return String(decoding: try encoder.encode(inventory), as: UTF8.self)
}

private func decodingError(_ json: String) throws -> HostInventoryError {
    try #require(throws: HostInventoryError.self) {
        try HostInventory(json: Data(json.utf8))
    }
}

/// The part of the error after "decode host inventory: ".
private func reason(_ json: String) throws -> String {
    let error = try decodingError(json)
    #expect(error.action == "decode host inventory")
    #expect(error.errno == nil)
    return error.reason
}

/// A one-interface document whose interface object is `interface`.
private func document(interface: String) -> String {
    #"{"interfaces": [\#(interface)]}"#
}

private let eth0 = #"{"name": "eth0", "ifindex": 2, "up": true, "running": true, "addresses": []}"#

@Suite struct JSONFormat {
    @Test func encodesSortedSnakeCaseJSON() throws {
        let expected = """
            {
              "hostname" : "storage-01",
              "interfaces" : [
                {
                  "addresses" : [
                    {
                      "address" : "127.0.0.1",
                      "prefix_length" : 8
                    },
                    {
                      "address" : "::1",
                      "prefix_length" : 128
                    }
                  ],
                  "ifindex" : 1,
                  "mac" : "00:00:00:00:00:00",
                  "name" : "lo",
                  "running" : true,
                  "up" : true
                },
                {
                  "addresses" : [
                    {
                      "address" : "10.1.0.5",
                      "prefix_length" : 24
                    },
                    {
                      "address" : "fd00:a::5",
                      "prefix_length" : 64
                    }
                  ],
                  "ifindex" : 7,
                  "name" : "ib0",
                  "running" : false,
                  "up" : true
                }
              ]
            }
            """
        #expect(try encode(sample) == expected)
    }

    @Test func roundTrips() throws {
        let encoded = try encode(sample)
        #expect(try HostInventory(json: Data(encoded.utf8)) == sample)
        #expect(try JSONDecoder().decode(HostInventory.self, from: Data(encoded.utf8)) == sample)
    }

    @Test func acceptsHandWrittenFiles() throws {
        let json = """
            {
                "hostname": null,
                "interfaces": [
                    {"name": "eth1", "ifindex": 3, "up": true, "running": true, "mac": "02:AB:00:00:00:01",
                     "addresses": [{"address": "fd00::1", "prefix_length": 64},
                                   {"address": "10.0.0.1", "prefix_length": 24}]},
                    {"name": "eth0", "ifindex": 2, "up": false, "running": false, "addresses": []}
                ]
            }
            """
        let inventory = try HostInventory(json: Data(json.utf8))
        #expect(inventory.hostname == nil)
        #expect(inventory.interfaces.map(\.name) == ["eth0", "eth1"])
        #expect(inventory.interfaces[0].mac == nil)
        #expect(inventory.interfaces[1].mac == "02:ab:00:00:00:01")
        #expect(inventory.interfaces[1].addresses == [address("10.0.0.1", 24), address("fd00::1", 64)])
    }
}

@Suite struct DecodingErrors {
    @Test func missingField() throws {
        let json = #"{"interfaces": [\#(eth0), {"name": "eth1", "up": true, "running": true, "addresses": []}]}"#
        #expect(try decodingError(json).description
            == "decode host inventory: interfaces[1].ifindex: required field is missing")
    }

    @Test func missingInterfaces() throws {
        #expect(try reason(#"{"hostname": "h"}"#) == "interfaces: required field is missing")
    }

    @Test(arguments: [
        (#""2""#, "interfaces[0].ifindex: expected an integer, found a string"),
        ("2.5", "interfaces[0].ifindex: expected an integer, found 2.5"),
        ("null", "interfaces[0].ifindex: expected an integer, found null"),
        ("-1", "interfaces[0].ifindex: ifindex must be between 1 and 4294967295, found -1"),
        ("4294967296", "interfaces[0].ifindex: ifindex must be between 1 and 4294967295, found 4294967296"),
        ("0", "interfaces[0].ifindex: 0 is not an ifindex (the kernel numbers interfaces from 1)"),
    ])
    func badIfindex(value: String, message: String) throws {
        let interface = #"{"name": "eth0", "ifindex": \#(value), "up": true, "running": true, "addresses": []}"#
        #expect(try reason(document(interface: interface)) == message)
    }

    @Test func wrongTypes() throws {
        #expect(try reason(document(interface: eth0.replacingOccurrences("\"up\": true", "\"up\": \"yes\"")))
            == "interfaces[0].up: expected true or false, found a string")
        #expect(try reason(document(interface: eth0.replacingOccurrences("\"addresses\": []", "\"addresses\": {}")))
            == "interfaces[0].addresses: expected an array, found an object")
        #expect(try reason(document(interface: eth0.replacingOccurrences("\"eth0\"", "null")))
            == "interfaces[0].name: expected a string, found null")
        #expect(try reason(#"{"interfaces": [7]}"#)
            == "interfaces[0]: expected an object, found a number")
        #expect(try reason("[]") == "top level: expected an object, found an array")
    }

    @Test func unknownKeys() throws {
        #expect(try reason(document(interface: eth0.replacingOccurrences("\"name\"", "\"nmae\"")))
            == "interfaces[0].nmae: unknown field (did you mean 'name'?)")
        #expect(try reason(document(interface: eth0.replacingOccurrences("\"up\"", "\"colour\": 1, \"up\"")))
            == "interfaces[0].colour: unknown field "
            + "(expected one of: name, ifindex, up, running, mac, addresses)")
        #expect(try reason(#"{"hostnme": "h", "interfaces": []}"#)
            == "hostnme: unknown field (did you mean 'hostname'?)")
        let address = #"{"address": "10.0.0.1", "prefix_length": 24, "prefixlen": 24}"#
        #expect(try reason(document(interface: eth0.replacingOccurrences("[]", "[\(address)]")))
            == "interfaces[0].addresses[0].prefixlen: unknown field (did you mean 'prefix_length'?)")
    }

    @Test func duplicateInterfaces() throws {
        let sameName = #"{"name": "eth0", "ifindex": 3, "up": true, "running": true, "addresses": []}"#
        #expect(try reason(#"{"interfaces": [\#(eth0), \#(sameName)]}"#)
            == "interfaces[1].name: duplicate interface name 'eth0' (also at interfaces[0])")
        let sameIndex = #"{"name": "eth1", "ifindex": 2, "up": true, "running": true, "addresses": []}"#
        #expect(try reason(#"{"interfaces": [\#(eth0), \#(sameIndex)]}"#)
            == "interfaces[1].ifindex: duplicate ifindex 2 (also at interfaces[0])")
    }

    @Test(arguments: [
        ("10.0.0.1", "33", "33 is out of range for an IPv4 address (0...32)"),
        ("fd00::1", "129", "129 is out of range for an IPv6 address (0...128)"),
        ("10.0.0.1", "-1", "-1 is out of range for an IPv4 address (0...32)"),
        ("10.0.0.1", "24.5", "expected an integer, found 24.5"),
    ])
    func badPrefixLength(ip: String, length: String, message: String) throws {
        let addresses = #"[{"address": "10.9.9.9", "prefix_length": 8}, "#
            + #"{"address": "\#(ip)", "prefix_length": \#(length)}]"#
        let json = document(interface: eth0.replacingOccurrences("[]", addresses))
        #expect(try reason(json) == "interfaces[0].addresses[1].prefix_length: \(message)")
    }

    @Test func badValues() throws {
        let badAddress = #"[{"address": "10.0.0.256", "prefix_length": 8}]"#
        #expect(try reason(document(interface: eth0.replacingOccurrences("[]", badAddress)))
            == "interfaces[0].addresses[0].address: '10.0.0.256' is not an IPv4 or IPv6 address")
        let twice = #"[{"address": "10.0.0.1", "prefix_length": 8}, {"address": "10.0.0.1", "prefix_length": 8}]"#
        #expect(try reason(document(interface: eth0.replacingOccurrences("[]", twice)))
            == "interfaces[0].addresses[1]: duplicate address 10.0.0.1/8 (also at interfaces[0].addresses[0])")
        #expect(try reason(document(interface: eth0.replacingOccurrences("\"up\"", "\"mac\": \"02:00:0g\", \"up\"")))
            == "interfaces[0].mac: '02:00:0g' is not a link-layer address "
            + "(expected hex byte pairs separated by colons, like 02:00:00:00:00:01)")
        #expect(try reason(document(interface: eth0.replacingOccurrences("\"eth0\"", "\"eth0:1\"")))
            == "interfaces[0].name: 'eth0:1' is not a valid interface name: it contains '/' or ':'")
        #expect(try reason(document(interface: eth0.replacingOccurrences("\"eth0\"", "\"a-very-long-name0\"")))
            == "interfaces[0].name: 'a-very-long-name0' is not a valid interface name: "
            + "it is longer than 15 bytes")
    }

    @Test func syntaxErrorsGiveLineAndColumn() throws {
        let trailingComma = """
            {
                "interfaces": [
                    {"name": "eth0", "ifindex": 2, "up": true, "running": true, "addresses": [],}
                ]
            }
            """
        #expect(try reason(trailingComma)
            == "line 3, column 85 (in interfaces[0]): expected a quoted field name, found '}'")
        #expect(try reason("") == "line 1, column 1: expected a value, found end of input")
        #expect(try reason(#"{"interfaces": [] "#)
            == "line 1, column 19: expected ',' or '}' after a field, found end of input")
        #expect(try reason(#"{"interfaces": [01]}"#)
            == "line 1, column 18 (in interfaces[0]): numbers must not have leading zeros")
        #expect(try reason(#"{"interfaces": []} x"#)
            == "line 1, column 20: unexpected 'x' after the end of the JSON value")
    }

    @Test func duplicateKeysAreRejected() throws {
        let json = """
            {"interfaces": [
              {"name": "eth0", "ifindex": 2, "ifindex": 3, "up": true, "running": true, "addresses": []}
            ]}
            """
        #expect(try reason(json)
            == "interfaces[0].ifindex: duplicate field (line 2, column 34)")
    }
}

@Suite struct Sources {
    @Test func liveHostHasLoopback() throws {
        let inventory = try LiveHost().inventory()
        let lo = try #require(inventory.interface(named: "lo"))
        #expect(lo.index == 1)
        #expect(inventory.interface(index: 1)?.name == "lo")
        #expect(lo.up)
        #expect(lo.usable)
        #expect(lo.mac == "00:00:00:00:00:00")
        #expect(lo.addresses.contains(address("127.0.0.1", 8)))
        if (try? String(contentsOfFile: "/proc/sys/net/ipv6/conf/lo/disable_ipv6", encoding: .utf8))?
            .hasPrefix("0") == true {
            #expect(lo.addresses.contains(address("::1", 128)))
        }
        #expect(inventory.interfaces.map(\.index) == inventory.interfaces.map(\.index).sorted())
        #expect(Set(inventory.interfaces.map(\.index)).count == inventory.interfaces.count)
        #expect(inventory.hostname?.isEmpty == false)
        // What this host reports must be readable as a --host file on another.
        #expect(try HostInventory(json: Data(encode(inventory).utf8)) == inventory)
    }

    @Test func missingFileNamesPathAndErrno() throws {
        let path = "/tmp/fabricguard-no-such-host-\(getpid()).json"
        let error = try #require(throws: HostInventoryError.self) {
            try InventoryFile(path: path).inventory()
        }
        #expect(error.errno == ENOENT)
        #expect(error.description == "read host file \(path): open: No such file or directory (errno 2)")
    }

    @Test func directoryIsNotAHostFile() throws {
        let error = try #require(throws: HostInventoryError.self) {
            try InventoryFile(path: "/tmp").inventory()
        }
        #expect(error.errno == EISDIR)
        #expect(error.description == "read host file /tmp: read: Is a directory (errno 21)")
    }

    @Test func readsFileWrittenByInventory() throws {
        let path = "/tmp/fabricguard-host-test-\(getpid()).json"
        try Data(encode(sample).utf8).write(to: URL(fileURLWithPath: path))
        defer { unlink(path) }
        #expect(try InventoryFile(path: path).inventory() == sample)

        try Data(document(interface: #"{"name": "eth0"}"#).utf8).write(to: URL(fileURLWithPath: path))
        let error = try #require(throws: HostInventoryError.self) {
            try InventoryFile(path: path).inventory()
        }
        #expect(error.description == "read host file \(path): interfaces[0].ifindex: required field is missing")
    }

    @Test func staticHostReturnsItsInventory() throws {
        let source: any HostInventorySource = StaticHost(sample)
        #expect(try source.inventory() == sample)
    }
}

@Suite struct Model {
    @Test(arguments: [(true, true, true), (true, false, false), (false, true, false), (false, false, false)])
    func usable(up: Bool, running: Bool, usable: Bool) {
        let interface = HostInterface(name: "eth0", index: 2, up: up, running: running, mac: nil, addresses: [])
        #expect(interface.usable == usable)
    }

    @Test func lookupsAndAddresses() throws {
        #expect(sample.interfaces.map(\.index) == [1, 7])
        #expect(sample.interface(named: "ib0")?.index == 7)
        #expect(sample.interface(named: "eth9") == nil)
        #expect(sample.interface(index: 1)?.name == "lo")
        #expect(sample.interface(index: 2) == nil)
        #expect(sample.addresses.map { "\($0.interface.name) \($0.address)" }
            == ["lo 127.0.0.1/8", "lo ::1/128", "ib0 10.1.0.5/24", "ib0 fd00:a::5/64"])
        #expect(address("10.1.0.5", 24).prefix == (try IPPrefix(parsing: "10.1.0.0/24")))
    }
}

extension String {
    fileprivate func replacingOccurrences(_ target: String, _ replacement: String) -> String {
        split(separator: target, omittingEmptySubsequences: false).joined(separator: replacement)
    }
}
