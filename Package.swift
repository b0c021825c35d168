// swift-tools-version: 6.1
// The arrow of dependencies points one way:
//   FabricSystem -> FabricPolicy -> FabricHost -> FabricCompiler -> FabricReference -> fabricguard
//   CFabricABI -> FabricABI -> FabricCompiler -> FabricBPF -> FabricAgent -> FabricDaemon -> fabricguard
//                 FabricABI -> FabricCapture -> fabricguard
//   CNetlink -> FabricNetlink (FabricHost) -> FabricAgent, FabricDaemon, fabricguard
//   FabricAgent, FabricReference -> FabricEvents -> FabricDaemon, fabricguard
// The pure modules (policy, host model, compiler, reference) never see libbpf; only FabricBPF
// imports it (and CBPFShim), only FabricNetlink imports libmnl, only FabricDaemon libsystemd.
import PackageDescription

let package = Package(
    name: "fabricguard",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "fabricguard", targets: ["fabricguard"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/jpsim/Yams", from: "6.0.0"),
        .package(url: "https://github.com/apple/swift-log", from: "1.6.0"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.6.0"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.80.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.1.0"),
    ],
    targets: [
        // The one ABI header (bpf/include/fabricguard_abi.h) as a Swift module, with layout asserts.
        .target(name: "CFabricABI"),
        // __builtin_prefetch, for the dry-run's reading ahead (prefix tables, flow table).
        .target(name: "CPrefetch"),
        .target(name: "CThreads"),
        // libbpf itself, from the system (Debian: libbpf-dev, libelf-dev).
        .systemLibrary(
            name: "CLibBPF",
            pkgConfig: "libbpf",
            providers: [.apt(["libbpf-dev", "libelf-dev"])]
        ),
        // OpenSSL's libcrypto, for the policy digest's SHA-256 (Debian: libssl-dev). Not
        // swift-crypto: it compiles its own BoringSSL (241 C files) into each of the five
        // builds CI makes (debug, fuzz, ASan, TSan, release) for one hash function.
        .systemLibrary(name: "CLibCrypto", pkgConfig: "libcrypto", providers: [.apt(["libssl-dev"])]),
        // glibc's <malloc.h> (mallopt), part of libc6-dev.
        .systemLibrary(name: "CMalloc"),
        // libpcap, for reading captures (Debian: libpcap-dev).
        .systemLibrary(name: "CPcap", pkgConfig: "libpcap", providers: [.apt(["libpcap-dev"])]),
        // Macro-free wrappers over libbpf for Swift (LIBBPF_OPTS, va_list callbacks).
        .target(name: "CBPFShim", dependencies: ["CLibBPF", "CFabricABI"]),

        // Errors that carry an errno ("verb object: cause (errno N)") and the checks that make them.
        .target(name: "FabricSystem", dependencies: ["CThreads"]),
        // Reason, Action, Direction and the limits: the ABI header's codes with their names.
        .target(name: "FabricABI", dependencies: ["CFabricABI"]),
        .target(name: "FabricPolicy", dependencies: ["FabricSystem", .product(name: "Yams", package: "Yams")]),
        .target(name: "FabricHost", dependencies: ["FabricPolicy", "FabricSystem"]),
        .target(
            name: "FabricCompiler",
            dependencies: ["FabricABI", "FabricPolicy", "FabricHost", "CFabricABI", "CPrefetch", "CLibCrypto"]
        ),
        .target(name: "FabricReference", dependencies: ["FabricABI", "FabricPolicy", "FabricHost", "FabricCompiler", "FabricSystem", "CFabricABI", "CPrefetch"]),
        // The typed libbpf wrapper: objects, maps checked against the ABI, attach points.
        // The BPF object is embedded (built by bpf/Makefile, committed like bpf2go's output).
        .target(
            name: "FabricBPF",
            dependencies: ["CBPFShim", "CLibBPF", "CFabricABI", "FabricCompiler", "FabricSystem"],
            resources: [.embedInCode("Objects/fabricguard.bpf.o"), .embedInCode("Objects/empty.bpf.o")]
        ),
        // apply / status / stats / unload, over the Datapath seam (LinuxDatapath is the real one).
        .target(
            name: "FabricAgent",
            dependencies: ["FabricPolicy", "FabricHost", "FabricCompiler", "FabricBPF", "FabricNetlink", "FabricSystem", "CFabricABI"]
        ),
        // rtnetlink through libmnl (Debian: libmnl-dev): links and addresses as dumps and events.
        .target(name: "CNetlink", linkerSettings: [.linkedLibrary("mnl")]),
        // This host over rtnetlink: snapshots (LiveHost) and change notifications (NetlinkMonitor).
        .target(name: "FabricNetlink", dependencies: ["CNetlink", "FabricHost", "FabricPolicy", "FabricSystem"]),
        // libsystemd's sd_notify, for Type=notify units (Debian: libsystemd-dev).
        .systemLibrary(name: "CSystemd", pkgConfig: "libsystemd", providers: [.apt(["libsystemd-dev"])]),
        // `lint`: the host's routes, sysctls, addresses and iSCSI bindings held against the policy.
        .target(name: "FabricLint", dependencies: ["FabricPolicy", "FabricHost", "FabricSystem"]),
        // Violation events with names on them: the daemon's wire format, the socket client, the describer.
        .target(
            name: "FabricEvents",
            dependencies: ["FabricABI", "FabricAgent", "FabricBPF", "FabricHost", "FabricPolicy", "FabricReference", "FabricSystem"]
        ),
        // `fabricguard run`: one reconcile loop that keeps the kernel equal to (policy, live host),
        // plus what it serves: the events socket and the Prometheus endpoint (swift-nio, swift-prometheus).
        .target(
            name: "FabricDaemon",
            dependencies: [
                "FabricAgent", "FabricPolicy", "FabricHost", "FabricNetlink", "FabricABI", "FabricCompiler", "FabricSystem", "CSystemd",
                "FabricEvents", "FabricBPF",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "Prometheus", package: "swift-prometheus"),
            ]
        ),
        // Captures (pcap, pcapng) read through libpcap into Ethernet frames with interface and direction.
        .target(name: "FabricCapture", dependencies: ["CPcap", "FabricABI"]),
        // The shared fixture table: hand-written expectations, used by the reference and kernel tiers.
        .target(name: "FabricFixtures", dependencies: ["FabricPolicy", "FabricHost", "FabricReference"]),

        .executableTarget(
            name: "fabricguard",
            dependencies: [
                "FabricPolicy", "FabricHost", "FabricABI", "FabricCompiler", "FabricReference", "FabricAgent", "FabricCapture", "FabricSystem", "FabricBPF", "FabricDaemon", "FabricNetlink", "FabricEvents", "FabricLint", "CMalloc",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        // The fuzz harnesses (one per untrusted input) and their libFuzzer executables (scripts/fuzz).
        .target(
            name: "FabricFuzz",
            dependencies: ["FabricABI", "FabricCapture", "FabricCompiler", "FabricFixtures", "FabricHost", "FabricPolicy", "FabricReference"]
        ),
        .executableTarget(name: "fuzz-frame", dependencies: ["FabricFuzz"]),
        .executableTarget(name: "fuzz-policy", dependencies: ["FabricFuzz"]),
        .executableTarget(name: "fuzz-host", dependencies: ["FabricFuzz"]),
        .executableTarget(name: "fuzz-capture", dependencies: ["FabricFuzz"]),
        .executableTarget(
            name: "fabricguard-bench",
            dependencies: ["FabricPolicy", "FabricHost", "FabricABI", "FabricCompiler", "FabricReference", "FabricFixtures"]
        ),

        // The differential tier's kernel side, run inside a throwaway network namespace.
        .executableTarget(
            name: "fabricguard-selftest",
            dependencies: ["FabricBPF", "FabricFixtures", "FabricReference", "FabricCompiler", "FabricHost", "FabricNetlink", "CFabricABI"]
        ),

        .testTarget(name: "FabricPolicyTests", dependencies: ["FabricPolicy", "FabricFixtures"]),
        .testTarget(name: "FabricLintTests", dependencies: ["FabricLint", "FabricHost", "FabricPolicy"]),
        .testTarget(name: "FabricHostTests", dependencies: ["FabricHost", "FabricPolicy", "FabricSystem"]),
        .testTarget(name: "FabricCompilerTests", dependencies: ["FabricABI", "FabricCompiler", "FabricFixtures"]),
        .testTarget(name: "FabricCaptureTests", dependencies: ["FabricCapture", "FabricReference", "FabricFixtures"]),
        .testTarget(name: "FabricAgentTests", dependencies: ["FabricAgent", "FabricFixtures"]),
        .testTarget(name: "FabricNetlinkTests", dependencies: ["FabricNetlink", "FabricHost", "FabricPolicy"]),
        .testTarget(
            name: "FabricDaemonTests",
            dependencies: ["FabricDaemon", "FabricAgent", "FabricABI", "FabricBPF", "FabricCompiler", "FabricEvents", "FabricFixtures", "FabricSystem"]
        ),
        .testTarget(name: "FabricEventsTests", dependencies: ["FabricEvents", "FabricBPF", "FabricABI", "FabricAgent", "FabricFixtures", "FabricPolicy", "FabricReference"]),
        .testTarget(name: "FabricFuzzTests", dependencies: ["FabricFuzz", "FabricFixtures", "FabricCapture"]),
        .testTarget(name: "FabricReferenceTests", dependencies: ["FabricReference", "FabricFixtures"]),
        .testTarget(name: "FabricCLITests", dependencies: ["fabricguard", "FabricFixtures", "FabricSystem"]),
        // Object/ABI tier: the embedded object against the ABI header; no privileges.
        .testTarget(name: "FabricObjectTests", dependencies: ["FabricBPF", "CFabricABI", "CLibBPF", "FabricSystem"]),
        // The kernel tiers (root, network namespaces; required in CI).
        .testTarget(
            name: "FabricKernelTests",
            dependencies: ["FabricBPF", "FabricCompiler", "FabricPolicy", "CFabricABI", "fabricguard", "fabricguard-selftest", "FabricFixtures", "FabricHost", "FabricSystem"]
        ),
    ]
)
