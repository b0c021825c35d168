/// The BPF object this binary was built with (bpf/fabricguard.bpf.o).
public enum EmbeddedObject {
    public static var fabricguard: [UInt8] { PackageResources.fabricguard_bpf_o }
}
