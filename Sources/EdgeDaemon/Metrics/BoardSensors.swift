import EdgeBoards
import Foundation

/// CPU temperature, clock and throttling, read from the sysfs files the board profile names (read at scrape time:
/// cheap, and always current). A file that is missing or unreadable (a development host, a sandbox) gives nil,
/// and that metric is simply absent.
public struct BoardSensors: Sendable {
    public struct Reading: Sendable, Equatable {
        public var temperatureCelsius: Double?
        public var frequencyHertz: Double?
        public var maxFrequencyHertz: Double?
        /// True while the board throttles (Raspberry Pi firmware flags 0-3, or the clock below its maximum).
        public var throttled: Bool?
        /// The Raspberry Pi firmware's get_throttled bits, where the board has them.
        public var throttleFlags: UInt32?
    }

    public var cpufreqCurrent: String?
    public var cpufreqMax: String?
    public var thermalZone: String?
    public var throttling: String?
    public var throttlingFormat: String
    /// Prefix for every path (tests point it at a fake sysfs tree).
    public var root: String

    public init(cpufreqCurrent: String?, cpufreqMax: String?, thermalZone: String?, throttling: String?, throttlingFormat: String,
                root: String = "") {
        self.cpufreqCurrent = cpufreqCurrent
        self.cpufreqMax = cpufreqMax
        self.thermalZone = thermalZone
        self.throttling = throttling
        self.throttlingFormat = throttlingFormat
        self.root = root
    }

    /// The profile's paths; without a profile (a host that is no known board), the usual Linux ones.
    public init(profile: BoardProfile?) {
        if let s = profile?.sysfs {
            self.init(cpufreqCurrent: s.cpufreq_current, cpufreqMax: s.cpufreq_max, thermalZone: s.thermal_zone,
                      throttling: s.throttling, throttlingFormat: s.throttling_format)
        } else {
            self.init(cpufreqCurrent: "/sys/devices/system/cpu/cpufreq/policy0/scaling_cur_freq",
                      cpufreqMax: "/sys/devices/system/cpu/cpufreq/policy0/cpuinfo_max_freq",
                      thermalZone: "/sys/class/thermal/thermal_zone0/temp", throttling: nil, throttlingFormat: "none")
        }
    }

    func readValue(_ path: String?) -> String? {
        guard let path, let data = FileManager.default.contents(atPath: root + path) else { return nil }
        let text = String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines.union(CharacterSet(charactersIn: "\0")))
        return text.isEmpty ? nil : text
    }

    public func read() -> Reading {
        var r = Reading()
        // thermal_zone*/temp is millidegrees Celsius; cpufreq files are kHz.
        if let t = readValue(thermalZone).flatMap(Double.init) { r.temperatureCelsius = t / 1000 }
        if let f = readValue(cpufreqCurrent).flatMap(Double.init) { r.frequencyHertz = f * 1000 }
        if let f = readValue(cpufreqMax).flatMap(Double.init) { r.maxFrequencyHertz = f * 1000 }
        switch throttlingFormat {
        case "raspberrypi-get-throttled":
            if var text = readValue(throttling) {
                if text.hasPrefix("0x") || text.hasPrefix("0X") { text.removeFirst(2) }
                if let flags = UInt32(text, radix: 16) {
                    r.throttleFlags = flags
                    // Bits 0-3: under-voltage, frequency capped, throttled, soft temperature limit, now.
                    r.throttled = flags & 0xf != 0
                }
            }
        case "cpufreq-below-max":
            if let current = r.frequencyHertz, let max = r.maxFrequencyHertz { r.throttled = current < max }
        default:
            break
        }
        return r
    }
}
