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
import FabricSystem
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
    String(decoding: try inventory.json(), as: UTF8.self)
}

private func decodingError(_ json: String) throws -> HostInventoryError {
    try #require(throws: HostInventoryError.self) {
        try HostInventory(json: Data(json.utf8), file: "h.json")
    }
}

/// The problems found, one "file:line:column: field: message" per line.
private func reason(_ json: String) throws -> String {
    let error = try decodingError(json)
    guard case .invalid(let file, let diagnostics) = error else {
        Issue.record("expected an invalid host file, got \(error)")
        return ""
    }
    #expect(file == "h.json")
    return diagnostics.map(\.description).joined(separator: "\n")
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
        let decoder = JSONDecoder()
        decoder.keyDecodingStrategy = .convertFromSnakeCase
        #expect(try decoder.decode(HostInventory.self, from: Data(encoded.utf8)) == sample)
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

// Host files are read by the policy's node reader (Yams): every problem is reported, each at
// file:line:column and field path, with the policy's words for unknown and missing keys.
@Suite struct DecodingErrors {
    @Test func missingField() throws {
        let json = #"{"interfaces": [\#(eth0), {"name": "eth1", "up": true, "running": true, "addresses": []}]}"#
        #expect(try decodingError(json).description
            == "invalid host file h.json: 1 error\n  h.json:1:95: interfaces[1].ifindex: required field is missing")
    }

    @Test func missingInterfaces() throws {
        #expect(try reason(#"{"hostname": "h"}"#) == "h.json:1:1: interfaces: required field is missing")
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
        #expect(try reason(document(interface: interface)) == "h.json:1:45: \(message)")
    }

    @Test func wrongTypes() throws {
        #expect(try reason(document(interface: eth0.replacingOccurrences("\"up\": true", "\"up\": \"yes\"")))
            == "h.json:1:54: interfaces[0].up: expected true or false, found a string")
        #expect(try reason(document(interface: eth0.replacingOccurrences("\"addresses\": []", "\"addresses\": {}")))
            == "h.json:1:90: interfaces[0].addresses: expected an array, found an object")
        #expect(try reason(document(interface: eth0.replacingOccurrences("\"eth0\"", "null")))
            == "h.json:1:26: interfaces[0].name: expected a string, found null")
        #expect(try reason(#"{"interfaces": [7]}"#)
            == "h.json:1:17: interfaces[0]: expected an object with keys name, ifindex, up, running, mac, addresses, kind, "
            + "found a number")
        #expect(try reason("[]") == "h.json:1:1: expected an object with keys hostname, interfaces, found an array")
    }

    @Test func unknownKeys() throws {
        #expect(try reason(document(interface: eth0.replacingOccurrences("\"name\"", "\"nmae\"")))
            == "h.json:1:17: interfaces[0].name: required field is missing\n"
            + "h.json:1:18: interfaces[0].nmae: unknown key 'nmae' (did you mean 'name'?); "
            + "allowed here: name, ifindex, up, running, mac, addresses, kind")
        #expect(try reason(document(interface: eth0.replacingOccurrences("\"up\"", "\"colour\": 1, \"up\"")))
            == "h.json:1:48: interfaces[0].colour: unknown key 'colour'; "
            + "allowed here: name, ifindex, up, running, mac, addresses, kind")
        #expect(try reason(#"{"hostnme": "h", "interfaces": []}"#)
            == "h.json:1:2: hostnme: unknown key 'hostnme' (did you mean 'hostname'?); allowed here: hostname, interfaces")
        let address = #"{"address": "10.0.0.1", "prefix_length": 24, "prefixlen": 24}"#
        #expect(try reason(document(interface: eth0.replacingOccurrences("[]", "[\(address)]")))
            == "h.json:1:136: interfaces[0].addresses[0].prefixlen: unknown key 'prefixlen' "
            + "(did you mean 'prefix_length'?); allowed here: address, prefix_length")
    }

    @Test func duplicateInterfaces() throws {
        let sameName = #"{"name": "eth0", "ifindex": 3, "up": true, "running": true, "addresses": []}"#
        #expect(try reason(#"{"interfaces": [\#(eth0), \#(sameName)]}"#)
            == "h.json:1:95: interfaces[1].name: duplicate interface name 'eth0' (also at interfaces[0])")
        let sameIndex = #"{"name": "eth1", "ifindex": 2, "up": true, "running": true, "addresses": []}"#
        #expect(try reason(#"{"interfaces": [\#(eth0), \#(sameIndex)]}"#)
            == "h.json:1:95: interfaces[1].ifindex: duplicate ifindex 2 (also at interfaces[0])")
    }

    @Test(arguments: [
        ("10.0.0.1", "33", "1:177", "33 is out of range for an IPv4 address (0...32)"),
        ("fd00::1", "129", "1:176", "129 is out of range for an IPv6 address (0...128)"),
        ("10.0.0.1", "-1", "1:177", "-1 is out of range for an IPv4 address (0...32)"),
        ("10.0.0.1", "24.5", "1:177", "expected an integer, found 24.5"),
    ])
    func badPrefixLength(ip: String, length: String, location: String, message: String) throws {
        let addresses = #"[{"address": "10.9.9.9", "prefix_length": 8}, "#
            + #"{"address": "\#(ip)", "prefix_length": \#(length)}]"#
        let json = document(interface: eth0.replacingOccurrences("[]", addresses))
        #expect(try reason(json) == "h.json:\(location): interfaces[0].addresses[1].prefix_length: \(message)")
    }

    @Test func badValues() throws {
        let badAddress = #"[{"address": "10.0.0.256", "prefix_length": 8}]"#
        #expect(try reason(document(interface: eth0.replacingOccurrences("[]", badAddress)))
            == "h.json:1:103: interfaces[0].addresses[0].address: '10.0.0.256' is not an IPv4 or IPv6 address")
        let twice = #"[{"address": "10.0.0.1", "prefix_length": 8}, {"address": "10.0.0.1", "prefix_length": 8}]"#
        #expect(try reason(document(interface: eth0.replacingOccurrences("[]", twice)))
            == "h.json:1:136: interfaces[0].addresses[1]: duplicate address 10.0.0.1/8 (also at interfaces[0].addresses[0])")
        #expect(try reason(document(interface: eth0.replacingOccurrences("\"up\"", "\"mac\": \"02:00:0g\", \"up\"")))
            == "h.json:1:55: interfaces[0].mac: '02:00:0g' is not a link-layer address "
            + "(expected hex byte pairs separated by colons, like 02:00:00:00:00:01)")
        #expect(try reason(document(interface: eth0.replacingOccurrences("\"eth0\"", "\"eth0:1\"")))
            == "h.json:1:26: interfaces[0].name: 'eth0:1' is not a valid interface name: contains '/' or ':'")
        #expect(try reason(document(interface: eth0.replacingOccurrences("\"eth0\"", "\"a-very-long-name0\"")))
            == "h.json:1:26: interfaces[0].name: 'a-very-long-name0' is not a valid interface name: "
            + "longer than 15 bytes")
    }

    @Test func everyProblemIsReported() throws {
        let json = #"{"interfaces": [{"name": "eth0", "ifindex": 0, "up": 1, "running": true, "addresses": []}]}"#
        #expect(try reason(json)
            == "h.json:1:45: interfaces[0].ifindex: 0 is not an ifindex (the kernel numbers interfaces from 1)\n"
            + "h.json:1:54: interfaces[0].up: expected true or false, found a number")
    }

    @Test func syntaxErrorsGiveLineAndColumn() throws {
        #expect(try reason("") == "h.json:1:1: the host file is empty (write it with `fabricguard inventory --json`)")
        #expect(try reason(#"{"interfaces": [}"#) == "h.json:1:17: not valid JSON: did not find expected node content")
        #expect(try reason(#"{"interfaces": []} x"#)
            == "h.json:1:20: not valid JSON: did not find expected <document start>")
        #expect(try reason(#"{"interfaces": "\u00zz"}"#)
            == "h.json:1:19: not valid JSON: did not find expected hexdecimal number")
    }

    @Test func duplicateKeysAreRejected() throws {
        let json = """
            {"interfaces": [
              {"name": "eth0", "ifindex": 2, "ifindex": 3, "up": true, "running": true, "addresses": []}
            ]}
            """
        // Yams names the key and the line:column of its first occurrence, not the path.
        #expect(try reason(json) == "h.json:2:20: key written twice in one object: ifindex")
    }
}

@Suite struct Sources {
    @Test func missingFileNamesPathAndErrno() throws {
        let path = "/tmp/fabricguard-no-such-host-\(getpid()).json"
        let error = try #require(throws: HostInventoryError.self) {
            try InventoryFile(path: path).inventory()
        }
        #expect(error == .system(SystemError(verb: "read host file", object: path, errno: ENOENT)))
        #expect(error.description == "read host file \(path): No such file or directory (errno 2)")
    }

    @Test func directoryIsNotAHostFile() throws {
        let error = try #require(throws: HostInventoryError.self) {
            try InventoryFile(path: "/tmp").inventory()
        }
        #expect(error == .system(SystemError(
            verb: "read host file", object: "/tmp", errno: 0,
            detail: "not a regular file (directory); give a file, or - for standard input")))
        #expect(error.description == "read host file /tmp: not a regular file (directory); give a file, or - for standard input")
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
        #expect(error.description == """
            invalid host file \(path): 4 errors
              \(path):1:17: interfaces[0].addresses: required field is missing
              \(path):1:17: interfaces[0].ifindex: required field is missing
              \(path):1:17: interfaces[0].running: required field is missing
              \(path):1:17: interfaces[0].up: required field is missing
            """)
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
