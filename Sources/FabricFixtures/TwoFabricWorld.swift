import FabricHost
import FabricPolicy

/// The two-fabric, dual-stack example of docs/policy.md (also examples/two-fabrics.yaml): an
/// iSCSI initiator on SAN-A and SAN-B, redirect on san-b, a management NIC. The policy and
/// compiler tests both read it, so it is written once.
public enum TwoFabricWorld {
    public static let policyYAML = """
        version: 1
        fabrics:
          - name: san-a
            interfaces: [ens1f0]
            prefixes: [10.1.0.0/24, "fd00:a::/64"]
          - name: san-b
            interfaces: [ens1f1]
            prefixes: [10.2.0.0/24, "fd00:b::/64"]
            egress: { action: redirect }
        egress:  { mode: enforce, action: drop, unowned: pass }
        ingress: { mode: enforce, checks: [source, destination] }
        exempt:  [0.0.0.0/32, "::/128", "fe80::/10"]
        management: [eth0]

        """

    /// An initiator with a management NIC and one NIC on each fabric, all up.
    public static let host = HostInventory(
        hostname: "initiator-1",
        interfaces: [
            HostInterface(name: "lo", index: 1, up: true, running: true, mac: "00:00:00:00:00:00", addresses: [
                HostAddress(IPAddress("127.0.0.1")!, prefixLength: 8)
            ]),
            HostInterface(name: "eth0", index: 2, up: true, running: true, mac: "02:00:00:00:00:02", addresses: [
                HostAddress(IPAddress("192.168.1.5")!, prefixLength: 24)
            ]),
            HostInterface(name: "ens1f0", index: 3, up: true, running: true, mac: "02:00:00:00:00:03", addresses: [
                HostAddress(IPAddress("10.1.0.5")!, prefixLength: 24), HostAddress(IPAddress("fd00:a::5")!, prefixLength: 64),
                HostAddress(IPAddress("fe80::3")!, prefixLength: 64),
            ]),
            HostInterface(name: "ens1f1", index: 4, up: true, running: true, mac: "02:00:00:00:00:04", addresses: [
                HostAddress(IPAddress("10.2.0.5")!, prefixLength: 24), HostAddress(IPAddress("fd00:b::5")!, prefixLength: 64),
            ]),
        ])
}
