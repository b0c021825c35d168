import FabricPolicy

/// Traffic an apply must not cut: the operator's own SSH session, the host's
/// default-route traffic, where it runs on this host (`LiveHost.protectedFlows`).
public struct ProtectedFlow: Sendable, Equatable {
    /// What it is, for the refusal: "your SSH session (SSH_CONNECTION)".
    public var what: String
    public var interface: String
    public var ifindex: UInt32
    /// This host's end.
    public var local: IPAddress
    public var remote: IPAddress

    public init(what: String, interface: String, ifindex: UInt32, local: IPAddress, remote: IPAddress) {
        self.what = what
        self.interface = interface
        self.ifindex = ifindex
        self.local = local
        self.remote = remote
    }
}
