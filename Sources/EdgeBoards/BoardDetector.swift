import CKernels
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import EdgeSupport
#if canImport(Glibc)
import Glibc
#endif

/// What the running machine says about itself, and the profile that fits it: a board of the catalog, or a generic
/// profile of its core type.
public struct BoardDetection: Sendable {
    public var deviceTreeModel: String?
    public var cpuParts: [String]
    /// Cores counted in /proc/cpuinfo (or the online CPUs when it lists none).
    public var cores: Int
    public var architecture: String
    /// CPU features of interest: on aarch64 the AT_HWCAP bits asimd, asimddp (dot product), asimdhp (fp16); on
    /// x86-64 avx2, avx512 (F/BW/VL), avx512vnni.
    public var hwcapFeatures: [String]
    public var qemuCPU: String?
    /// A board of the catalog, or (`isGeneric`) a profile made for this machine's cores; never another board's.
    public var profile: BoardProfile
    /// One sentence on how the profile was chosen.
    public var reason: String

    /// Whether this machine is a board of the catalog (a model file made for another board is refused), rather than
    /// a machine with a generic profile (a development host, an unknown single-board computer).
    public var isKnownBoard: Bool { !profile.isGeneric }
    /// The board's name for checks against a model file's board: nil on a machine that is no known board.
    public var knownBoardName: String? { isKnownBoard ? profile.name : nil }
}

public enum BoardDetector {
    /// Detects from the live system.
    public static func detect(catalog: BoardCatalog, environment: [String: String] = ProcessInfo.processInfo.environment) -> BoardDetection {
        let files = machineFiles(root: "")
        return detect(catalog: catalog, deviceTreeModel: files.deviceTreeModel, cpuinfo: files.cpuinfo,
                      hwcap: ck_cpu_feature_bits(), environment: environment)
    }

    /// Detects from a copy of a machine's files (`root`/proc/device-tree/model and `root`/proc/cpuinfo, as fixtures
    /// in the tests hold them), taking the CPU features from cpuinfo.
    public static func detect(catalog: BoardCatalog, machineRoot root: String, architecture: String, onlineCPUs: Int = 1) -> BoardDetection {
        let files = machineFiles(root: root)
        return detect(catalog: catalog, deviceTreeModel: files.deviceTreeModel, cpuinfo: files.cpuinfo,
                      hwcap: nil, environment: [:], architecture: architecture, onlineCPUs: onlineCPUs)
    }

    /// The two files detection reads, under `root` ("" for this machine): the device-tree model (NUL-terminated by
    /// the kernel; nil where there is none) and /proc/cpuinfo ("" when unreadable).
    static func machineFiles(root: String) -> (deviceTreeModel: String?, cpuinfo: String) {
        ((try? String(contentsOfFile: root + "/proc/device-tree/model", encoding: .utf8)).map(trimmedDeviceTreeString),
         (try? String(contentsOfFile: root + "/proc/cpuinfo", encoding: .utf8)) ?? "")
    }

    /// Detects from given facts (testable):
    /// 1. the device-tree model (/proc/device-tree/model) names a board of the catalog: that board;
    /// 2. under qemu-user (where /proc shows the host's files), QEMU_CPU names a qemu profile: that profile;
    /// 3. anything else is no known board and gets a generic profile for its core type: the cores counted, the
    ///    kernels its CPU has. The CPU part alone never picks a board: a Cortex-A72 is also a Rockchip board's core.
    ///
    /// - Parameters:
    ///   - hwcap: AT_HWCAP on aarch64; on x86-64 CKernels' feature word (`ck_cpu_feature_bits`: bit 0 AVX2, bit 1
    ///     AVX-512 F/BW/VL, bit 2 AVX512-VNNI). Nil: read the features from cpuinfo's `Features`/`flags` line.
    ///   - architecture: `uname -m`; nil for this machine's.
    ///   - onlineCPUs: the count to use when cpuinfo lists no `processor` lines; nil for this machine's.
    public static func detect(catalog: BoardCatalog, deviceTreeModel: String?, cpuinfo: String, hwcap: UInt64?,
                              environment: [String: String], architecture: String? = nil, onlineCPUs: Int? = nil) -> BoardDetection {
        let facts = CPUInfo(cpuinfo)
        let arch = architecture ?? machineArchitecture()
        let features = cpuFeatures(architecture: arch, hwcap: hwcap, cpuinfo: facts)
        let cores = facts.processors > 0 ? facts.processors : (onlineCPUs ?? ProcessInfo.processInfo.activeProcessorCount)
        let qemuCPU = environment["QEMU_CPU"]
        let model = deviceTreeModel.flatMap { $0.isEmpty ? nil : $0 }
        func detection(_ profile: BoardProfile, _ reason: String) -> BoardDetection {
            BoardDetection(deviceTreeModel: model, cpuParts: facts.parts, cores: cores, architecture: arch, hwcapFeatures: features,
                           qemuCPU: qemuCPU, profile: profile, reason: reason)
        }

        if let model, let p = catalog.profiles.first(where: { ($0.match.device_tree_models ?? []).contains(where: model.contains) }) {
            return detection(p, "device-tree model '\(model)' is \(p.name)")
        }
        if arch == "aarch64", let qemuCPU, let p = catalog.profiles.first(where: { $0.match.qemu_cpu == qemuCPU }) {
            return detection(p, "qemu-user with QEMU_CPU=\(qemuCPU) is \(p.name)")
        }
        let generic = genericProfile(architecture: arch, cpuinfo: facts, features: features, cores: cores, deviceTreeModel: model)
        let seen = model.map { "device-tree model '\($0)' is no known board" } ?? "no known board (no device-tree model)"
        let kernels = generic.kernels.prefer.joined(separator: ", ")
        return detection(generic, "\(seen): generic profile \(generic.name) for \(cores) \(generic.cpu.core) cores, kernels \(kernels)")
    }

    /// The profile of a machine that is no known board: its core type, counted cores, the kernels its CPU has; nothing
    /// it does not know (caches 0, no sysfs paths: the sensors find the machine's own).
    static func genericProfile(architecture: String, cpuinfo: CPUInfo, features: [String], cores: Int, deviceTreeModel: String?) -> BoardProfile {
        let core: String
        let prefer: [String]
        switch architecture {
        case "aarch64":
            // big.LITTLE machines list several parts; the highest part number is the newest (biggest) core.
            let part = cpuinfo.parts.max()
            core = part.flatMap { armCoreNames[$0] } ?? part.map { "aarch64 core \($0)" } ?? "aarch64"
            prefer = (features.contains("asimddp") ? ["neondot"] : []) + ["neon", "scalar"]
        case "x86_64":
            core = "x86-64"
            prefer = (features.contains("avx512vnni") ? ["avx512vnni"] : []) + (features.contains("avx2") ? ["avx2"] : []) + ["scalar"]
        default:
            core = architecture
            prefer = ["scalar"]
        }
        let slug = core.lowercased().map { $0.isLetter || $0.isNumber ? String($0) : "-" }.joined()
        return BoardProfile(
            name: BoardProfile.genericPrefix + slug,
            description: "no known board (\(deviceTreeModel.map { "device-tree model '\($0)'" } ?? "no device-tree model")): \(cores) x \(core)",
            match: .init(device_tree_models: nil, cpu_part: cpuinfo.parts.max(), qemu_cpu: nil),
            cpu: .init(core: core, architecture: architecture, cores: cores, max_mhz: 0, dot_product: features.contains("asimddp"),
                       fp16_arithmetic: features.contains("asimdhp"), i8mm: false),
            caches: .init(l1d_kib: 0, l2_kib: 0, l2_shared: false, l3_kib: 0),
            default_threads: cores,
            // No paths: the probe's sensors then read every cpufreq policy and thermal zone this machine has.
            sysfs: .init(cpufreq_current: nil, cpufreq_max: nil, thermal_zone: nil, throttling: nil,
                         throttling_format: "cpufreq-below-max", note: "no known board: the machine's own cpufreq and thermal files"),
            camera: .init(device: "/dev/video0", pixel_format: "YUYV", width: 640, height: 480, fps: 30, note: nil),
            kernels: .init(prefer: prefer, weights: "per-channel int8 in [-127, 127]"))
    }

    /// Arm's MIDR part numbers (implementer 0x41) of the cores single-board computers have.
    static let armCoreNames: [String: String] = [
        "0xd03": "Cortex-A53", "0xd04": "Cortex-A35", "0xd05": "Cortex-A55", "0xd07": "Cortex-A57", "0xd08": "Cortex-A72",
        "0xd09": "Cortex-A73", "0xd0a": "Cortex-A75", "0xd0b": "Cortex-A76", "0xd0c": "Neoverse-N1", "0xd0d": "Cortex-A77",
        "0xd41": "Cortex-A78", "0xd42": "Cortex-A78AE", "0xd44": "Cortex-X1", "0xd46": "Cortex-A510", "0xd47": "Cortex-A710",
        "0xd4b": "Cortex-A78C", "0xd80": "Cortex-A520", "0xd81": "Cortex-A720",
    ]

    static func cpuFeatures(architecture: String, hwcap: UInt64?, cpuinfo: CPUInfo) -> [String] {
        switch architecture {
        case "aarch64":
            if let hwcap {
                // Linux arch/arm64 uapi hwcap.h bit numbers.
                return [(1, "asimd"), (10, "asimdhp"), (20, "asimddp")].compactMap { hwcap & (1 << $0.0) != 0 ? $0.1 : nil }
            }
            return ["asimd", "asimdhp", "asimddp"].filter(cpuinfo.flags.contains)
        case "x86_64":
            if let hwcap {
                return [(0, "avx2"), (1, "avx512"), (2, "avx512vnni")].compactMap { hwcap & (1 << $0.0) != 0 ? $0.1 : nil }
            }
            let avx512 = ["avx512f", "avx512bw", "avx512vl"].allSatisfy(cpuinfo.flags.contains)
            return (cpuinfo.flags.contains("avx2") ? ["avx2"] : []) + (avx512 ? ["avx512"] : [])
                + (avx512 && cpuinfo.flags.contains("avx512_vnni") ? ["avx512vnni"] : [])
        default:
            return []
        }
    }

    /// The parts of /proc/cpuinfo detection reads.
    struct CPUInfo {
        /// Distinct "CPU part" values, lowercased and sorted.
        var parts: [String] = []
        /// "processor" lines: the cores.
        var processors = 0
        /// The first "Features" (aarch64) or "flags" (x86) line's words.
        var flags: Set<String> = []

        init(_ text: String) {
            var parts = Set<String>()
            for line in text.split(separator: "\n") {
                let kv = line.split(separator: ":", maxSplits: 1).map { $0.trimmed(.whitespaces) }
                guard kv.count == 2 else { continue }
                switch kv[0] {
                case "CPU part": parts.insert(kv[1].lowercased())
                case "processor": processors += 1
                case "Features", "flags": if flags.isEmpty { flags = Set(kv[1].split(separator: " ").map(String.init)) }
                default: break
                }
            }
            self.parts = parts.sorted()
        }
    }

    /// Device-tree strings end in NUL.
    static func trimmedDeviceTreeString(_ s: String) -> String {
        s.trimmed(.whitespacesNewlinesAndNUL)
    }

    static func machineArchitecture() -> String {
        var name = utsname()
        uname(&name)
        return withUnsafeBytes(of: &name.machine) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
    }
}
