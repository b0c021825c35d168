import FabricSystem
import Foundation

/// `apply --confirm`: what the rollback helper needs, kept in the runtime
/// directory (the policy text itself is too large for the pinned record).
public struct PendingConfirmation: Sendable, Equatable, Codable {
    /// Names this confirmation: a later `apply --confirm` replaces it, and a
    /// helper whose token is gone has nothing to do.
    public var token: String
    /// Seconds since the epoch.
    public var deadline: Double
    /// The helper waiting for the deadline (0 until it is started).
    public var helperPID: Int32
    /// The policy file the previous generation was applied from (for the record);
    /// nil when there was none and a rollback unloads.
    public var previousPolicy: String?

    // Written out: a key strategy would turn helperPID into helper_p_i_d and back into helperPid.
    enum CodingKeys: String, CodingKey {
        case token, deadline
        case helperPID = "helper_pid"
        case previousPolicy = "previous_policy"
    }

    public init(token: String, deadline: Double, helperPID: Int32, previousPolicy: String?) {
        self.token = token
        self.deadline = deadline
        self.helperPID = helperPID
        self.previousPolicy = previousPolicy
    }
}

extension RuntimeDirectory {
    /// The text of the policy last applied from this pin directory: what a
    /// rollback restores (the file it came from may have been edited since).
    public var appliedPolicy: String { "\(path)/applied.yaml" }
    /// The confirmed policy an unconfirmed apply rolls back to.
    public var rollbackPolicy: String { "\(path)/rollback.yaml" }
    public var confirmationFile: String { "\(path)/confirm.json" }
    /// What the rollback helper did, for the operator who lost the session.
    public var rollbackLog: String { "\(path)/rollback.log" }

    public func pendingConfirmation() -> PendingConfirmation? {
        guard let text = try? TextFile.read(confirmationFile, maximumSize: 1 << 16) else { return nil }
        return try? JSONDecoder().decode(PendingConfirmation.self, from: Data(text.utf8))
    }

    public func writePendingConfirmation(_ pending: PendingConfirmation) throws {
        try PrivateDirectory.make(path)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        try TextFile.write(String(decoding: try encoder.encode(pending), as: UTF8.self) + "\n", to: confirmationFile)
    }

    /// The confirmation is over (confirmed or rolled back): its files go.
    public func clearConfirmation() {
        unlink(confirmationFile)
        unlink(rollbackPolicy)
    }
}
