import EdgeBoards
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import EdgeSupport
#if canImport(Glibc)
import Glibc
#endif

/// One sysfs file read as a sensor, with a short label ("policy0", "cpu2", "cpu-thermal (zone0)").
public struct SensorFile: Codable, Equatable, Sendable {
    public var label: String
    public var path: String

    public init(label: String, path: String) {
        self.label = label
        self.path = path
    }
}

/// Where the CPU clock, the temperature and the throttle flags are read, and how.
///
/// From the board profile's sysfs paths when they are readable; otherwise (a host that is no known board, or a profile
/// path this machine lacks) the usual Linux files: every `/sys/devices/system/cpu/cpuN/cpufreq/scaling_cur_freq`
/// (with `cpuinfo_max_freq` beside it), every `/sys/class/thermal/thermal_zoneN/temp` (labelled by its `type`), and the
/// Raspberry Pi firmware's `get_throttled` if present. What cannot be read is said in `notes` ("not readable").
public struct SystemSensors: Sendable, Equatable {
    /// Prefix of every path (tests point it at a fake sysfs tree); "" on a real system.
    public var root: String
    /// Current CPU clock files (kHz), one per cpufreq policy or CPU.
    public var cpufreq: [SensorFile]
    /// Maximum clock files (kHz), parallel to `cpufreq` (nil where there is none).
    public var cpufreqMax: [SensorFile?]
    /// Temperature files (millidegrees Celsius).
    public var thermal: [SensorFile]
    /// The throttle flags file, if the board has one.
    public var throttling: SensorFile?
    /// raspberrypi-get-throttled, cpufreq-below-max or none (as in board profiles).
    public var throttlingFormat: String
    /// Where the paths came from, e.g. "board profile rpi4" or "host sysfs".
    public var origin: String
    /// One line per sensor kind that could not be read, and per profile path that was replaced.
    public var notes: [String]

    public init(root: String = "", cpufreq: [SensorFile], cpufreqMax: [SensorFile?], thermal: [SensorFile], throttling: SensorFile?,
                throttlingFormat: String, origin: String, notes: [String] = []) {
        self.root = root
        self.cpufreq = cpufreq
        self.cpufreqMax = cpufreqMax
        self.thermal = thermal
        self.throttling = throttling
        self.throttlingFormat = throttlingFormat
        self.origin = origin
        self.notes = notes
    }

    /// The profile's files where readable, the host's otherwise; `root` prefixes every path (for tests).
    public static func discover(profile: BoardProfile?, root: String = "") -> SystemSensors {
        let reader = SysfsReader(root: root)
        var notes: [String] = []
        var origins: [String] = []
        let profileName = profile.map { "board profile \($0.name)" }

        // CPU clock.
        var cpufreq: [SensorFile] = [], cpufreqMax: [SensorFile?] = []
        if let path = profile?.sysfs.cpufreq_current {
            if reader.number(path) != nil {
                cpufreq = [SensorFile(label: policyLabel(path), path: path)]
                cpufreqMax = [profile?.sysfs.cpufreq_max.flatMap { reader.number($0) != nil ? SensorFile(label: policyLabel($0), path: $0) : nil }]
                origins.append(profileName!)
            } else {
                notes.append("cpufreq: the profile's \(path) is not readable here; using the host's files")
            }
        }
        if cpufreq.isEmpty {
            for cpu in reader.numberedEntries(in: "/sys/devices/system/cpu", prefix: "cpu") {
                let dir = "/sys/devices/system/cpu/cpu\(cpu)/cpufreq"
                guard reader.number(dir + "/scaling_cur_freq") != nil else { continue }
                cpufreq.append(SensorFile(label: "cpu\(cpu)", path: dir + "/scaling_cur_freq"))
                let max = [dir + "/cpuinfo_max_freq", dir + "/scaling_max_freq"].first { reader.number($0) != nil }
                cpufreqMax.append(max.map { SensorFile(label: "cpu\(cpu)", path: $0) })
            }
            if cpufreq.isEmpty {
                notes.append("cpu frequency: not readable (no readable /sys/devices/system/cpu/cpu*/cpufreq/scaling_cur_freq)")
            } else {
                origins.append("host sysfs")
            }
        }

        // Temperature.
        var thermal: [SensorFile] = []
        if let path = profile?.sysfs.thermal_zone {
            if reader.number(path) != nil {
                thermal = [SensorFile(label: zoneLabel(path, reader: reader), path: path)]
                origins.append(profileName!)
            } else {
                notes.append("temperature: the profile's \(path) is not readable here; using the host's files")
            }
        }
        if thermal.isEmpty {
            for zone in reader.numberedEntries(in: "/sys/class/thermal", prefix: "thermal_zone") {
                let path = "/sys/class/thermal/thermal_zone\(zone)/temp"
                guard reader.number(path) != nil else { continue }
                thermal.append(SensorFile(label: zoneLabel(path, reader: reader), path: path))
            }
            if thermal.isEmpty {
                notes.append("temperature: not readable (no readable /sys/class/thermal/thermal_zone*/temp)")
            } else {
                origins.append("host sysfs")
            }
        }

        // Throttling.
        var throttling: SensorFile? = nil
        var format = profile?.sysfs.throttling_format ?? "none"
        if format == "raspberrypi-get-throttled" {
            if let path = profile?.sysfs.throttling, reader.text(path).flatMap(RaspberryPiThrottling.parse) != nil {
                throttling = SensorFile(label: "get_throttled", path: path)
            } else {
                notes.append("throttling: the profile's \(profile?.sysfs.throttling ?? "get_throttled file") is not readable here")
                format = "none"
            }
        }
        if throttling == nil && format == "none" {
            // A Raspberry Pi kernel that no profile matched still has the firmware's flags.
            let path = RaspberryPiThrottling.defaultPath
            if reader.text(path).flatMap(RaspberryPiThrottling.parse) != nil {
                throttling = SensorFile(label: "get_throttled", path: path)
                format = "raspberrypi-get-throttled"
            }
        }
        if format == "cpufreq-below-max" && (cpufreq.isEmpty || cpufreqMax.allSatisfy { $0 == nil }) {
            notes.append("throttling: \(profileName ?? "the board") shows throttling as the clock below its maximum, and the clock is not readable")
            format = "none"
        }
        if format == "none" && throttling == nil {
            notes.append("throttling: not readable (no throttle flags on this machine\(profile == nil ? "" : " or in its profile"))")
        }
        var seen = Set<String>()
        let origin = origins.filter { seen.insert($0).inserted }.joined(separator: " + ")
        return SystemSensors(root: root, cpufreq: cpufreq, cpufreqMax: cpufreqMax, thermal: thermal, throttling: throttling,
                             throttlingFormat: format, origin: origin.isEmpty ? "none readable" : origin, notes: notes)
    }

    /// Reads every sensor once (a few small sysfs reads; cheap enough for a 100 ms sampler).
    public func read() -> SensorReading {
        let reader = SysfsReader(root: root)
        return SensorReading(cpu_mhz: cpufreq.map { reader.number($0.path).map { $0 / 1000 } },
                             max_mhz: cpufreqMax.map { $0.flatMap { reader.number($0.path) }.map { $0 / 1000 } },
                             temperature_c: thermal.map { reader.number($0.path).map { $0 / 1000 } },
                             throttle_flags: throttling.flatMap { reader.text($0.path) }.flatMap(RaspberryPiThrottling.parse),
                             throttlingFormat: throttlingFormat)
    }

    public var canReadFrequency: Bool { !cpufreq.isEmpty }
    public var canReadTemperature: Bool { !thermal.isEmpty }
    /// Throttling is known from flags, or from the clock against its maximum where the profile says so.
    public var canReadThrottling: Bool { throttling != nil || throttlingFormat == "cpufreq-below-max" }

    static func policyLabel(_ path: String) -> String {
        let parts = path.split(separator: "/")
        return parts.first { $0.hasPrefix("policy") || ($0.hasPrefix("cpu") && $0.dropFirst(3).allSatisfy(\.isNumber) && $0.count > 3) }
            .map(String.init) ?? "cpu"
    }

    static func zoneLabel(_ path: String, reader: SysfsReader) -> String {
        let dir = path.deletingLastPathComponent
        let zone = dir.lastPathComponent.replacingAll("thermal_", with: "")
        if let type = reader.text(dir + "/type"), !type.isEmpty { return "\(type) (\(zone))" }
        return zone
    }
}

/// One reading of every sensor. Frequencies in MHz, temperatures in degrees Celsius; nil where a read failed.
public struct SensorReading: Sendable, Equatable {
    public var cpu_mhz: [Double?]
    public var max_mhz: [Double?]
    public var temperature_c: [Double?]
    public var throttle_flags: UInt32?
    public var throttlingFormat: String

    /// True while the board throttles: Raspberry Pi firmware bits 0-3 (under-voltage, frequency capped, throttled,
    /// soft temperature limit, now), or for `cpufreq-below-max` boards the first clock below 95 % of its maximum.
    /// Nil when the board tells nothing.
    public var throttledNow: Bool? {
        if let flags = throttle_flags { return flags & RaspberryPiThrottling.currentMask != 0 }
        if throttlingFormat == "cpufreq-below-max", let current = cpu_mhz.first ?? nil, let max = max_mhz.first ?? nil, max > 0 {
            return current < 0.95 * max
        }
        return nil
    }
}

/// The Raspberry Pi firmware's throttle flags (`vcgencmd get_throttled`, or sysfs
/// `/sys/devices/platform/soc/soc:firmware/get_throttled`, printed in hex).
public enum RaspberryPiThrottling {
    public static let defaultPath = "/sys/devices/platform/soc/soc:firmware/get_throttled"

    /// Bit, meaning. Bits 0-3 are the current state, bits 16-19 "has occurred since boot".
    public static let bits: [(bit: UInt32, meaning: String)] = [
        (0, "under-voltage detected"), (1, "arm frequency capped"), (2, "currently throttled"), (3, "soft temperature limit active"),
        (16, "under-voltage has occurred"), (17, "arm frequency capping has occurred"), (18, "throttling has occurred"),
        (19, "soft temperature limit has occurred"),
    ]
    /// The bits that describe the present.
    public static let currentMask: UInt32 = 0xF
    /// The bits that describe the past (since boot).
    public static let occurredMask: UInt32 = 0xF_0000

    /// The meanings of the set bits, in bit order; unknown set bits as "bit N".
    public static func decode(_ flags: UInt32) -> [String] {
        var out: [String] = []
        for bit in 0..<UInt32(32) where flags & (1 << bit) != 0 {
            out.append(bits.first { $0.bit == bit }?.meaning ?? "bit \(bit)")
        }
        return out
    }

    /// Parses the sysfs file ("50005"), vcgencmd's output ("throttled=0x50005") or a "0x" number. Hex always.
    public static func parse(_ text: String) -> UInt32? {
        var t = text.trimmed(.whitespacesNewlinesAndNUL)
        if let eq = t.firstIndex(of: "=") { t = String(t[t.index(after: eq)...]) }
        if t.hasPrefix("0x") || t.hasPrefix("0X") { t.removeFirst(2) }
        guard !t.isEmpty, t.count <= 8 else { return nil }
        return UInt32(t, radix: 16)
    }
}

/// Small sysfs reads with plain POSIX calls (no Foundation file objects on the sampling path).
struct SysfsReader {
    let root: String

    func text(_ path: String) -> String? {
        let fd = open(root + path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var buffer = [UInt8](repeating: 0, count: 256)
        let n = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, 255) }
        guard n > 0 else { return nil }
        let s = String(decoding: buffer[0..<n], as: UTF8.self).trimmed(.whitespacesNewlinesAndNUL)
        return s.isEmpty ? nil : s
    }

    func number(_ path: String) -> Double? {
        text(path).flatMap { Double($0.split(separator: " ").first.map(String.init) ?? "") }
    }

    /// N for every entry `prefixN` of `directory` (N all digits), ascending.
    func numberedEntries(in directory: String, prefix: String) -> [Int] {
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: root + directory) else { return [] }
        return names.compactMap { name -> Int? in
            guard name.hasPrefix(prefix) else { return nil }
            let rest = name.dropFirst(prefix.count)
            return !rest.isEmpty && rest.allSatisfy(\.isNumber) ? Int(rest) : nil
        }.sorted()
    }
}
