import FabricSystem

#if canImport(Glibc)
import Glibc
#endif

/// `run --watch-policy`: notices when the policy file's content changes (a
/// Kubernetes ConfigMap update swaps a symlink under the mount; an editor
/// renames a new file over the old one) and asks for a reload, as SIGHUP
/// does. It looks every `interval`, at the file the path names now, and only
/// reads it when its identity, size or mtime moved.
struct PolicyFileWatch {
    let path: String
    private var stamp: [Int]?
    private var content: String?

    init(path: String) {
        self.path = path
        stamp = Self.stamp(path)
        content = try? TextFile.read(path, verb: "read policy", maximumSize: TextFile.policyMaximumSize)
    }

    static func stamp(_ path: String) -> [Int]? {
        var status = stat()
        guard stat(path, &status) == 0 else { return nil }
        return [Int(status.st_dev), Int(status.st_ino), Int(status.st_size), status.st_mtim.tv_sec, status.st_mtim.tv_nsec]
    }

    /// True once per change of the content (a touch without change is none).
    mutating func changed() -> Bool {
        let now = Self.stamp(path)
        guard now != stamp else { return false }
        stamp = now
        let text = try? TextFile.read(path, verb: "read policy", maximumSize: TextFile.policyMaximumSize)
        guard let text, text != content else { return false }
        content = text
        return true
    }
}
