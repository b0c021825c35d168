import FabricCapture
import FabricFixtures
import Foundation
import Testing

@Suite("pcapng writer")
struct PcapngWriterTests {
    static let tshark = ["/usr/bin/tshark"].first { FileManager.default.isExecutableFile(atPath: $0) }

    func temporaryFile() -> String {
        FileManager.default.temporaryDirectory.appendingPathComponent("fg-pcapng-\(UUID().uuidString).pcapng").path
    }

    /// Three frames on two interfaces: libpcap reads back each frame, its
    /// time and its wire length; the interface blocks come first, once each.
    @Test func libpcapReadsBackFramesTimesAndLengths() throws {
        let path = temporaryFile()
        defer { try? FileManager.default.removeItem(atPath: path) }
        let frames: [(String, Double, [UInt8], Int)] = [
            ("sana0", 1_764_826_935.101234, Array(repeating: 0xaa, count: 61), 61),
            ("sanb0", 1_764_826_935.2, Array(repeating: 0xbb, count: 128), 1514),
            ("sana0", 1_764_826_936.000001, Array(repeating: 0xcc, count: 14), 14),
        ]
        do {
            let writer = try PcapngWriter(path: path)
            for (interface, seconds, bytes, length) in frames {
                try writer.write(interface: interface, seconds: seconds, bytes: bytes, length: length, comment: "egress foreign_source drop")
            }
        }
        let reader = try CaptureReader(path: path)
        var read: [CapturedFrame] = []
        while let frame = try reader.next() { read.append(frame) }
        #expect(read.map(\.frame) == frames.map(\.2))
        #expect(read.map(\.wireLength) == [61, 1514, 14])
        #expect(read.map(\.seconds) == [1_764_826_935, 1_764_826_935, 1_764_826_936])
        #expect(read.map(\.microseconds) == [101_234, 200_000, 1])
    }

    /// What libpcap does not show: interface names and comments, as tshark reads them.
    @Test(.enabled(if: tshark != nil, "tshark is missing (Debian: tshark; scripts/setup installs it)"))
    func tsharkSeesInterfaceNamesAndComments() throws {
        let path = temporaryFile()
        defer { try? FileManager.default.removeItem(atPath: path) }
        do {
            let writer = try PcapngWriter(path: path)
            try writer.write(interface: "ens1f0", seconds: 1, bytes: [UInt8](repeating: 0, count: 60), length: 60, comment: "egress foreign_source drop")
            try writer.write(interface: "ens1f1", seconds: 2, bytes: [UInt8](repeating: 0, count: 60), length: 60, comment: "ingress foreign_destination would_drop")
        }
        let shown = try TextProcess.run([Self.tshark!, "-r", path, "-T", "fields", "-e", "frame.interface_name", "-e", "frame.comment"])
        #expect(shown.split(separator: "\n").filter { $0.hasPrefix("ens1f") } == [
            "ens1f0\tegress foreign_source drop", "ens1f1\tingress foreign_destination would_drop",
        ], "\(shown)")
    }

    @Test func anUnwritablePathIsAnErrorNamingIt() {
        #expect(throws: CaptureError.self) { try PcapngWriter(path: "/nonexistent-dir/x.pcapng") }
    }
}

/// A tool's standard output, for the few tests that ask a system tool.
enum TextProcess {
    static func run(_ arguments: [String]) throws -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: arguments[0])
        process.arguments = Array(arguments.dropFirst())
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = FileHandle.nullDevice
        try process.run()
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return String(decoding: data, as: UTF8.self)
    }
}
