import CDNNL

/// The arithmetic convolutions (and so transposed convolutions) run in. Every tensor the engine
/// holds stays fp32 either way: weights, Adam state, batch-norm statistics, losses.
///
/// `bf16`: oneDNN rounds a convolution's two factors (source and weights in the forward pass;
/// output gradient and weights in backward data; source and output gradient for the weight
/// gradient) to bfloat16 (8-bit mantissa, relative error up to 2^-9 each) on the way in,
/// multiplies them on the CPU's bf16 units (AVX512-BF16 or AMX) and accumulates and writes fp32.
/// Layers where fp32 is faster stay fp32: large 3x3 layers run fp32 Winograd
/// (`ConvGeometry.winogradBeatsBF16`), and a weight gradient with no JIT bf16 kernel in oneDNN
/// is fp32 (`Conv2dKernel.weightGradientPrecision`).
public enum Precision: String, CaseIterable, Codable, Sendable {
    case fp32, bf16
}

/// A precision the CPU cannot run at full speed: oneDNN would emulate bf16 with fp32 instructions,
/// slower than fp32 itself, so it is refused rather than taken silently.
public struct UnsupportedPrecision: Error, CustomStringConvertible {
    public let precision: Precision
    /// oneDNN's name for the best instruction set it dispatches to here.
    public let isa: String
    public var description: String {
        "\(precision.rawValue) needs a CPU with AVX512-BF16 or AMX; oneDNN reports \(isa) here (use fp32)"
    }
}

/// What oneDNN reports about this CPU.
public enum CPUCapabilities {
    private static let isaValue = dnnl_get_effective_cpu_isa().rawValue

    /// oneDNN's name for the best instruction set it dispatches to (as ONEDNN_VERBOSE prints it).
    public static var isa: String {
        switch isaValue {
        case dnnl_cpu_isa_avx512_core_amx.rawValue: return "avx512_core_amx (Intel AMX with bfloat16)"
        case dnnl_cpu_isa_avx512_core_bf16.rawValue: return "avx512_core_bf16 (AVX-512 with bfloat16)"
        case dnnl_cpu_isa_avx512_core_vnni.rawValue: return "avx512_core_vnni"
        case dnnl_cpu_isa_avx512_core.rawValue: return "avx512_core"
        case dnnl_cpu_isa_avx2_vnni.rawValue: return "avx2_vnni"
        case dnnl_cpu_isa_avx2.rawValue: return "avx2"
        default: return "isa 0x\(String(isaValue, radix: 16))"
        }
    }

    /// The ISA masks are cumulative: AMX's includes every bit of avx512_core_bf16's.
    public static var hasBF16: Bool {
        let bf16 = dnnl_cpu_isa_avx512_core_bf16.rawValue
        return isaValue & bf16 == bf16
    }
}

extension KernelSettings {
    /// Makes `precision` the one convolutions use from now on (plans are cached per precision).
    public static func use(_ precision: Precision) throws {
        if precision == .bf16 && !CPUCapabilities.hasBF16 {
            throw UnsupportedPrecision(precision: precision, isa: CPUCapabilities.isa)
        }
        self.precision = precision
    }
}
