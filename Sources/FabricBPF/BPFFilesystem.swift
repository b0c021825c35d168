internal import CBPFShim
import FabricSystem

#if canImport(Glibc)
import Glibc
#endif

/// bpffs, where pins live. On a fresh machine /sys/fs/bpf is not mounted:
/// the agent mounts it, as bpftool does, and says so.
public enum BPFFilesystem {
    public static let standardMount = "/sys/fs/bpf"

    /// Makes sure `directory` can hold pins. Returns a notice when it mounted bpffs.
    public static func prepare(_ directory: String) throws(SystemError) -> String? {
        if isBPFFS(nearestExisting(directory)) { return nil }
        guard directory == standardMount || directory.hasPrefix(standardMount + "/") else {
            throw SystemError(verb: "use pin directory", object: directory, errno: 0, detail: "it is not on a bpffs mount")
        }
        guard mount("bpf", standardMount, "bpf", 0, "mode=0700") == 0 else {
            throw SystemError(verb: "mount bpffs at", object: standardMount, errno: errno)
        }
        return "mounted bpffs at \(standardMount) (it was not mounted)"
    }

    static func isBPFFS(_ path: String) -> Bool { fg_is_bpffs(path) == 1 }

    static func nearestExisting(_ path: String) -> String {
        var current = path
        while access(current, F_OK) != 0, let slash = current.lastIndex(of: "/"), slash != current.startIndex {
            current = String(current[..<slash])
        }
        return access(current, F_OK) == 0 ? current : "/"
    }
}
