import FabricPolicy
import FabricSystem

/// A failure to produce an inventory, e.g.
/// `read host file /tmp/h.json: No such file or directory (errno 2)`, or a host file's
/// problems each at its place: `/tmp/h.json:4:20: interfaces[1].ifindex: expected an integer, found a string`.
public enum HostInventoryError: Error, CustomStringConvertible, Equatable, Sendable {
    /// A system call failed: opening or reading a host file, or asking the kernel.
    case system(SystemError)
    /// A host file that was read but does not describe a host: every problem, located.
    case invalid(file: String, diagnostics: [PolicyDiagnostic])

    /// The located problems of an invalid host file; none for the other failures.
    public var diagnostics: [PolicyDiagnostic] {
        if case .invalid(_, let diagnostics) = self { return diagnostics }
        return []
    }

    public var description: String {
        switch self {
        case .system(let error): error.description
        case .invalid(let file, let diagnostics): PolicyDiagnostic.report("invalid host file \(file)", diagnostics)
        }
    }
}
