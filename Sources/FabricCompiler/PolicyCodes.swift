import CFabricABI
import FabricPolicy

/// ABI codes of the policy settings (fg_dir_config fields).
extension Mode {
    public var code: UInt8 {
        switch self {
        case .off: UInt8(FG_MODE_OFF.rawValue)
        case .audit: UInt8(FG_MODE_AUDIT.rawValue)
        case .enforce: UInt8(FG_MODE_ENFORCE.rawValue)
        }
    }
}

extension ViolationAction {
    public var code: UInt8 {
        switch self {
        case .drop: UInt8(FG_VIOLATION_DROP.rawValue)
        case .redirect: UInt8(FG_VIOLATION_REDIRECT.rawValue)
        }
    }
}

extension UnownedAction {
    public var code: UInt8 {
        switch self {
        case .pass: UInt8(FG_UNOWNED_PASS.rawValue)
        case .drop: UInt8(FG_UNOWNED_DROP.rawValue)
        }
    }
}

extension IngressCheck {
    public var bit: UInt8 {
        switch self {
        case .source: UInt8(FG_CHECK_SOURCE)
        case .destination: UInt8(FG_CHECK_DESTINATION)
        }
    }
}
