import FabricHost
import FabricPolicy

/// The host and policy every fixture is judged against: four fabrics that
/// between them exercise each setting (enforce/audit/off, drop/redirect,
/// unowned pass/drop, ingress checks) and a fabric whose only NIC is down.
///
/// | ifindex | interface | role                                                    |
/// |---------|-----------|---------------------------------------------------------|
/// | 1       | lo        | unlisted                                                |
/// | 2       | mgmt0     | management                                              |
/// | 3, 4    | sana0/1   | san-a: enforce, drop, unowned pass, both ingress checks |
/// | 5       | sanb0     | san-b: enforce, redirect, unowned drop, source check    |
/// | 6       | sanc0     | san-c: audit, redirect; ingress audit                   |
/// | 7       | sand0     | san-d: audit, drop, unowned drop; ingress off; DOWN     |
/// | 8       | other0    | unlisted, carries an address no fabric owns             |
public enum FixtureWorld {
    public static let policyYAML = """
        version: 1
        fabrics:
          - name: san-a
            interfaces: [sana0, sana1]
            prefixes: [10.1.0.0/24, "fd00:a::/64"]
          - name: san-b
            interfaces: [sanb0]
            prefixes: [10.2.0.0/24, "fd00:b::/64"]
            egress: { action: redirect, unowned: drop }
            ingress: { checks: [source] }
          - name: san-c
            interfaces: [sanc0]
            prefixes: [10.3.0.0/24, "fd00:c::/64"]
            egress: { mode: audit, action: redirect }
            ingress: { mode: audit }
          - name: san-d
            interfaces: [sand0]
            prefixes: [10.4.0.0/24, "fd00:d::/64"]
            egress: { mode: audit, unowned: drop }
            ingress: { mode: off }
        egress: { mode: enforce, action: drop, unowned: pass }
        ingress: { mode: enforce, checks: [source, destination] }
        exempt: [0.0.0.0/32, "::/128", "fe80::/10", 10.1.0.254/32]
        management: [mgmt0]

        """

    public static func policy() -> Policy {
        do {
            return try PolicyLoader.parse(yaml: policyYAML, file: "fixture-policy.yaml")
        } catch {
            fatalError("the fixture policy must load: \(error)")
        }
    }

    public static let host = HostInventory(
        hostname: "fixture-host",
        interfaces: [
            link("lo", 1, mac: "00:00:00:00:00:00", ["127.0.0.1/8", "::1/128"]),
            link("mgmt0", 2, ["192.168.0.10/24"]),
            link("sana0", 3, ["10.1.0.10/24", "fd00:a::10/64", "fe80::a0/64"]),
            link("sana1", 4, ["10.1.0.11/24", "fd00:a::11/64"]),
            link("sanb0", 5, ["10.2.0.10/24", "fd00:b::10/64"]),
            link("sanc0", 6, ["10.3.0.10/24", "fd00:c::10/64"]),
            link("sand0", 7, up: false, ["10.4.0.10/24", "fd00:d::10/64"]),
            link("other0", 8, ["10.9.0.10/24"]),
        ])

    public static func ifindex(_ name: String) -> UInt32 {
        guard let link = host.interface(named: name) else { fatalError("no fixture interface \(name)") }
        return link.index
    }

    static func link(
        _ name: String, _ index: UInt32, up: Bool = true, mac: String? = nil, _ addresses: [String]
    ) -> HostInterface {
        HostInterface(
            name: name, index: index, up: up, running: up,
            mac: mac ?? "02:00:00:00:00:\(String(index, radix: 16).count == 1 ? "0" : "")\(String(index, radix: 16))",
            addresses: addresses.map { text in
                let parts = text.split(separator: "/")
                return HostAddress(IPAddress(String(parts[0]))!, prefixLength: Int(parts[1])!)
            })
    }
}
