/// The BPF objects this binary was built with (bpf/*.bpf.o, copied by bpf/Makefile).
public enum EmbeddedObject {
    /// The datapath: fg_tc_egress, fg_tc_ingress, fg_xdp_ingress and their maps.
    public static var fabricguard: [UInt8] { PackageResources.fabricguard_bpf_o }
    /// Do-nothing programs per hook type, the benchmark's baseline.
    public static var empty: [UInt8] { PackageResources.empty_bpf_o }
}
