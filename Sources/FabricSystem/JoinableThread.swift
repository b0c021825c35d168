import CThreads

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// A thread that runs one closure and is joined: the join is where what it wrote
/// becomes the joiner's to read. Not detached, so nothing outlives its owner unseen.
public final class JoinableThread: @unchecked Sendable {
    private var thread = pthread_t()
    private var joined = false

    /// Starts `body` on a new thread named `name` (`top -H`: 15 bytes of it); throws
    /// "start thread NAME: cause" with the errno.
    public init(name: String, _ body: @escaping @Sendable () -> Void) throws(SystemError) {
        let box = Unmanaged.passRetained(Body(name: name, run: body))
        let status = pthread_create(&thread, nil, { context in
            let body = Unmanaged<Body>.fromOpaque(context!).takeRetainedValue()
            fg_name_thread(body.name)
            body.run()
            return nil
        }, box.toOpaque())
        guard status == 0 else {
            box.release()
            throw SystemError(verb: "start thread", object: name, errno: status)
        }
    }

    /// Waits for the body to return. Once; later calls return at once.
    public func join() {
        guard !joined else { return }
        joined = true
        pthread_join(thread, nil)
    }

    deinit { join() }

    /// The CPUs this process may run on: its affinity mask, which `taskset` and cpusets narrow.
    public static var allowedCPUs: Int { Int(fg_allowed_cpus()) }

    private final class Body {
        let name: String
        let run: @Sendable () -> Void
        init(name: String, run: @escaping @Sendable () -> Void) {
            self.name = name
            self.run = run
        }
    }
}
