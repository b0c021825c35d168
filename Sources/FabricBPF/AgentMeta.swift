import CFabricABI
import FabricSystem

#if canImport(Glibc)
import Glibc
#endif

/// The agent's own record in fg_agent_meta (one array entry): opaque bytes to
/// the programs, JSON to the agent. The layout comes from the header
/// (`length`, and the offset and size of `json` as its compiler lays them out).
public enum AgentMeta {
    /// The most the record may hold.
    public static var capacity: Int { fg_agent_meta_json_capacity() }

    /// The stored bytes; nil when nothing was ever stored.
    public static func read(from map: BPFMap) throws(SystemError) -> [UInt8]? {
        guard let value = try map.lookup(key: BPFMap.bytes(of: UInt32(0))) else { return nil }
        let length = value.withUnsafeBytes { Int($0.loadUnaligned(fromByteOffset: MemoryLayout<fg_agent_meta>.offset(of: \.length)!, as: UInt32.self)) }
        guard length > 0, length <= capacity else { return nil }
        let start = fg_agent_meta_json_offset()
        return Array(value[start..<start + length])
    }

    public static func write(_ bytes: [UInt8], to map: BPFMap) throws(SystemError) {
        guard bytes.count <= capacity else {
            throw SystemError(verb: "record", object: "applied policy", errno: E2BIG, detail: "\(bytes.count) bytes exceed \(capacity)")
        }
        var value = [UInt8](repeating: 0, count: MemoryLayout<fg_agent_meta>.size)
        value.withUnsafeMutableBytes {
            $0.storeBytes(of: UInt32(bytes.count), toByteOffset: MemoryLayout<fg_agent_meta>.offset(of: \.length)!, as: UInt32.self)
        }
        value.replaceSubrange(fg_agent_meta_json_offset()..<fg_agent_meta_json_offset() + bytes.count, with: bytes)
        try map.update(key: BPFMap.bytes(of: UInt32(0)), value: value)
    }
}
