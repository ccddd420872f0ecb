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

/// What the running machine says about itself, and the profile that fits it.
public struct BoardDetection: Sendable {
    public var deviceTreeModel: String?
    public var cpuParts: [String]
    public var architecture: String
    /// AT_HWCAP bits of interest (aarch64): asimd, asimddp (dot product), asimdhp (fp16).
    public var hwcapFeatures: [String]
    public var qemuCPU: String?
    public var profile: BoardProfile?
    /// One sentence on how the profile was chosen, or why none was.
    public var reason: String
}

public enum BoardDetector {
    /// Detects from the live system.
    public static func detect(catalog: BoardCatalog, environment: [String: String] = ProcessInfo.processInfo.environment) -> BoardDetection {
        detect(catalog: catalog,
               deviceTreeModel: (try? String(contentsOfFile: "/proc/device-tree/model", encoding: .utf8))?
                   .trimmed(.whitespacesNewlinesAndNUL),
               cpuinfo: (try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8)) ?? "",
               hwcap: hwcap(), environment: environment)
    }

    /// Detects from given facts (testable): device-tree model first, then the CPU part numbers, then,
    /// under qemu-user (where /proc shows the host), QEMU_CPU and the emulated HWCAP.
    public static func detect(catalog: BoardCatalog, deviceTreeModel: String?, cpuinfo: String, hwcap: UInt64?,
                              environment: [String: String]) -> BoardDetection {
        let parts = cpuinfo.split(separator: "\n").compactMap { line -> String? in
            let kv = line.split(separator: ":", maxSplits: 1).map { $0.trimmed(.whitespaces) }
            return kv.count == 2 && kv[0] == "CPU part" ? kv[1].lowercased() : nil
        }
        var features: [String] = []
        if let hwcap {
            // Linux arch/arm64 uapi hwcap.h bit numbers.
            if hwcap & (1 << 1) != 0 { features.append("asimd") }
            if hwcap & (1 << 10) != 0 { features.append("asimdhp") }
            if hwcap & (1 << 20) != 0 { features.append("asimddp") }
        }
        let qemuCPU = environment["QEMU_CPU"]
        var result = BoardDetection(deviceTreeModel: deviceTreeModel, cpuParts: Array(Set(parts)).sorted(), architecture: machineArchitecture(),
                                    hwcapFeatures: features, qemuCPU: qemuCPU, profile: nil, reason: "")
        if let model = deviceTreeModel, let p = catalog.profiles.first(where: { $0.match.device_tree_model.map(model.contains) ?? false }) {
            result.profile = p
            result.reason = "device-tree model '\(model)' matches \(p.name)"
        } else if let p = catalog.profiles.first(where: { prof in prof.match.cpu_part.map { parts.contains($0.lowercased()) } ?? false }) {
            result.profile = p
            result.reason = "CPU part \(p.match.cpu_part!) (\(p.cpu.core)) matches \(p.name)" + (deviceTreeModel.map { "; device-tree model '\($0)' is not a known board" } ?? "")
        } else if result.architecture == "aarch64", let qemuCPU, let p = catalog.profiles.first(where: { $0.match.qemu_cpu == qemuCPU }) {
            result.profile = p
            result.reason = "qemu-user with QEMU_CPU=\(qemuCPU) matches \(p.name)"
        } else if result.architecture == "aarch64", hwcap != nil {
            let dot = features.contains("asimddp")
            result.profile = catalog.profiles.first { $0.match.qemu_cpu != nil && $0.cpu.dot_product == dot }
            result.reason = "no known board; HWCAP \(dot ? "has" : "lacks") the dot product, so the generic \(result.profile?.name ?? "none") profile"
        } else {
            result.reason = "\(result.architecture) machine, not a known board: pass --board with one of \(catalog.profiles.map(\.name).joined(separator: ", "))"
        }
        return result
    }

    static func hwcap() -> UInt64? {
        #if arch(arm64) && os(Linux)
        // Swift's Glibc module does not export getauxval; the kernels' C probe reads AT_HWCAP.
        return ck_cpu_feature_bits()
        #else
        return nil
        #endif
    }

    static func machineArchitecture() -> String {
        var name = utsname()
        uname(&name)
        return withUnsafeBytes(of: &name.machine) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
    }
}
