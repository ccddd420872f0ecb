#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
#if canImport(Glibc)
import Glibc
#endif
import EdgeSupport

/// The process's memory: the peak resident set from `getrusage` (ru_maxrss) and from /proc/self/status (VmHWM), and
/// the current resident set (VmRSS). Bytes.
public struct ProcessMemory: Codable, Equatable, Sendable {
    public var max_rss_bytes: Int
    public var vm_hwm_bytes: Int?
    public var vm_rss_bytes: Int?

    public init(max_rss_bytes: Int, vm_hwm_bytes: Int?, vm_rss_bytes: Int?) {
        self.max_rss_bytes = max_rss_bytes
        self.vm_hwm_bytes = vm_hwm_bytes
        self.vm_rss_bytes = vm_rss_bytes
    }

    public static func read() -> ProcessMemory {
        var usage = rusage()
        getrusage(__rusage_who_t(RUSAGE_SELF.rawValue), &usage)   // an enum or an int, depending on the C library headers
        // Linux reports ru_maxrss in KiB.
        let status = (try? String(contentsOfFile: "/proc/self/status", encoding: .utf8)) ?? ""
        return ProcessMemory(max_rss_bytes: Int(usage.ru_maxrss) * 1024, vm_hwm_bytes: statusKiB(status, "VmHWM").map { $0 * 1024 },
                             vm_rss_bytes: statusKiB(status, "VmRSS").map { $0 * 1024 })
    }

    /// "VmHWM:\t  123456 kB" -> 123456.
    static func statusKiB(_ status: String, _ key: String) -> Int? {
        for line in status.split(separator: "\n") where line.hasPrefix(key + ":") {
            let fields = line.dropFirst(key.count + 1).split(whereSeparator: { $0 == " " || $0 == "\t" })
            return fields.first.flatMap { Int($0) }
        }
        return nil
    }
}

/// What machine a run was made on.
public struct MachineInfo: Codable, Equatable, Sendable {
    public var hostname: String
    /// uname machine, e.g. aarch64, x86_64.
    public var architecture: String
    /// uname sysname and release, e.g. "Linux 6.1.0-28-arm64".
    public var kernel: String
    /// /proc/cpuinfo "model name" (x86), else "Hardware"/"CPU part" lines; nil if none.
    public var cpu_model: String?
    /// /proc/device-tree/model (boards).
    public var device_tree_model: String?
    /// Online processors.
    public var cores: Int
    /// /proc/loadavg 1, 5 and 15 minutes, read when the run started.
    public var load_average: [Double]?
    /// Set when running under qemu-user (QEMU_CPU in the environment): figures are emulation figures.
    public var qemu_cpu: String?

    public init(hostname: String, architecture: String, kernel: String, cpu_model: String?, device_tree_model: String?, cores: Int,
                load_average: [Double]?, qemu_cpu: String?) {
        self.hostname = hostname
        self.architecture = architecture
        self.kernel = kernel
        self.cpu_model = cpu_model
        self.device_tree_model = device_tree_model
        self.cores = cores
        self.load_average = load_average
        self.qemu_cpu = qemu_cpu
    }

    public static func read() -> MachineInfo {
        var name = utsname()
        uname(&name)
        func field<T>(_ value: inout T) -> String {
            withUnsafeBytes(of: &value) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
        }
        let cpuinfo = (try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8)) ?? ""
        var model: String? = nil
        for key in ["model name", "Model", "Hardware"] {
            if let line = cpuinfo.split(separator: "\n").first(where: { $0.hasPrefix(key) && $0.contains(":") }) {
                let value = line.split(separator: ":", maxSplits: 1)[1].trimmed(.whitespaces)
                if !value.isEmpty { model = value; break }
            }
        }
        if model == nil {
            let parts = Set(cpuinfo.split(separator: "\n").filter { $0.hasPrefix("CPU part") }
                .compactMap { $0.split(separator: ":", maxSplits: 1).last?.trimmed(.whitespaces) })
            if !parts.isEmpty { model = "CPU part " + parts.sorted().joined(separator: ", ") }
        }
        let dt = (try? String(contentsOfFile: "/proc/device-tree/model", encoding: .utf8))?
            .trimmed(.whitespacesNewlinesAndNUL)
        return MachineInfo(hostname: ProcessInfo.processInfo.hostName, architecture: field(&name.machine),
                           kernel: field(&name.sysname) + " " + field(&name.release), cpu_model: model,
                           device_tree_model: dt?.isEmpty == false ? dt : nil, cores: ProcessInfo.processInfo.activeProcessorCount,
                           load_average: loadAverage(), qemu_cpu: ProcessInfo.processInfo.environment["QEMU_CPU"])
    }

    /// /proc/loadavg's three averages.
    public static func loadAverage() -> [Double]? {
        guard let text = try? String(contentsOfFile: "/proc/loadavg", encoding: .utf8) else { return nil }
        let values = text.split(separator: " ").prefix(3).compactMap { Double($0) }
        return values.count == 3 ? values : nil
    }
}
