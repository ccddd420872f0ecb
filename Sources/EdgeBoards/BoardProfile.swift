#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// What resnet-edge knows about one board: its CPU, caches, where its clocks and temperatures are
/// read, its usual camera, and which kernel variants run fastest on it. One JSON file per board in boards/.
public struct BoardProfile: Codable, Equatable, Sendable {
    public struct Match: Codable, Equatable, Sendable {
        /// Substrings of /proc/device-tree/model, any of which names this board (the Pi 4, Pi 400 and CM4 are one
        /// board to the kernels). This is what a board is told apart by.
        public var device_tree_models: [String]?
        /// The "CPU part" of /proc/cpuinfo (MIDR part number) of the board's cores, e.g. 0xd08 for Cortex-A72. For
        /// the record only: never matched alone, since a Cortex-A72 is also a Rockchip board's core and a Cortex-A76
        /// an RK3588's (such machines get a generic profile of their core type instead).
        public var cpu_part: String?
        /// For qemu-user profiles: the QEMU_CPU model.
        public var qemu_cpu: String?
    }
    public struct CPU: Codable, Equatable, Sendable {
        public var core: String
        public var architecture: String
        public var cores: Int
        public var max_mhz: Int
        public var dot_product: Bool
        public var fp16_arithmetic: Bool
        public var i8mm: Bool
    }
    public struct Caches: Codable, Equatable, Sendable {
        public var l1d_kib: Int
        public var l2_kib: Int
        public var l2_shared: Bool
        public var l3_kib: Int
    }
    public struct Sysfs: Codable, Equatable, Sendable {
        public var cpufreq_current: String?
        public var cpufreq_max: String?
        public var thermal_zone: String?
        /// A file with throttle flags, where the board has one.
        public var throttling: String?
        /// How throttling is read: raspberrypi-get-throttled, cpufreq-below-max, none.
        public var throttling_format: String
        public var note: String?
    }
    public struct Camera: Codable, Equatable, Sendable {
        public var device: String
        public var pixel_format: String
        public var width: Int
        public var height: Int
        public var fps: Int
        public var note: String?
    }
    public struct Kernels: Codable, Equatable, Sendable {
        /// Kernel variants in order of preference, among those the CPU supports.
        public var prefer: [String]
        public var weights: String
    }

    public var name: String
    public var description: String
    public var match: Match
    public var cpu: CPU
    public var caches: Caches
    public var default_threads: Int
    public var sysfs: Sysfs
    public var camera: Camera
    public var kernels: Kernels

    /// Checks the values a profile must have to be used; the message names the file and the key.
    public func validate(source: String) throws {
        func fail(_ key: String, _ why: String) -> BoardError { BoardError("\(source): \(key) \(why)") }
        guard !name.isEmpty, name.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "-" }) else { throw fail("name", "must be letters, digits and '-'") }
        guard cpu.cores >= 1 else { throw fail("cpu.cores", "must be at least 1") }
        guard (1...cpu.cores).contains(default_threads) else { throw fail("default_threads", "must be between 1 and cpu.cores (\(cpu.cores))") }
        let known = ["scalar", "neon", "neondot", "avx2", "avx512vnni"]
        for k in kernels.prefer where !known.contains(k) { throw fail("kernels.prefer", "has unknown variant '\(k)'; known: \(known.joined(separator: ", "))") }
        if kernels.prefer.contains("neondot") && !cpu.dot_product { throw fail("kernels.prefer", "lists neondot but cpu.dot_product is false") }
        guard ["raspberrypi-get-throttled", "cpufreq-below-max", "none"].contains(sysfs.throttling_format) else {
            throw fail("sysfs.throttling_format", "must be raspberrypi-get-throttled, cpufreq-below-max or none")
        }
        guard !(match.device_tree_models ?? []).isEmpty || match.qemu_cpu != nil else {
            throw fail("match", "needs device_tree_models or qemu_cpu (a CPU part alone does not tell boards apart)")
        }
        guard !name.hasPrefix(BoardProfile.genericPrefix) else { throw fail("name", "must not start with '\(BoardProfile.genericPrefix)' (kept for detected machines)") }
    }
}

extension BoardProfile {
    /// Names of the profiles made for machines that are no known board ("generic-cortex-a72", "generic-x86-64").
    public static let genericPrefix = "generic-"

    /// A profile made from what the machine says about its cores, not a board of boards/: a model file made for a
    /// board runs on it with a note (there is no board to check against).
    public var isGeneric: Bool { name.hasPrefix(Self.genericPrefix) }
}

public struct BoardError: Error, CustomStringConvertible, Equatable {
    public let description: String
    public init(_ description: String) { self.description = description }
}

/// The known profiles: built in (from boards/ at build time), or read from a directory of JSON files.
public struct BoardCatalog: Sendable {
    public let profiles: [BoardProfile]

    public init(profiles: [BoardProfile]) { self.profiles = profiles }

    public static func builtin() -> BoardCatalog {
        // The embedded JSON is validated by BoardProfileTests; a failure here is a build defect.
        BoardCatalog(profiles: builtinJSON.map { try! decode(Data($0.json.utf8), source: $0.file) })
    }

    /// Profiles from `directory/*.json` (e.g. /usr/share/resnet-edge/boards on a board).
    public static func load(directory: String) throws -> BoardCatalog {
        let files = try FileManager.default.contentsOfDirectory(atPath: directory).filter { $0.hasSuffix(".json") }.sorted()
        guard !files.isEmpty else { throw BoardError("\(directory) has no board profiles (*.json)") }
        return BoardCatalog(profiles: try files.map { file in
            let path = directory + "/" + file
            guard let data = FileManager.default.contents(atPath: path) else { throw BoardError("cannot read \(path)") }
            return try decode(data, source: path)
        })
    }

    static func decode(_ data: Data, source: String) throws -> BoardProfile {
        let profile: BoardProfile
        do {
            profile = try JSONDecoder().decode(BoardProfile.self, from: data)
        } catch let DecodingError.keyNotFound(key, context) {
            throw BoardError("\(source): missing key \((context.codingPath.map(\.stringValue) + [key.stringValue]).joined(separator: "."))")
        } catch let DecodingError.typeMismatch(_, context) {
            throw BoardError("\(source): \(context.codingPath.map(\.stringValue).joined(separator: ".")) has the wrong type")
        } catch {
            throw BoardError("\(source): not a valid board profile (\(error))")
        }
        try profile.validate(source: source)
        return profile
    }

    public func profile(named name: String) throws -> BoardProfile {
        guard let p = profiles.first(where: { $0.name == name }) else {
            throw BoardError("unknown board '\(name)'; known: \(profiles.map(\.name).joined(separator: ", ")), or auto")
        }
        return p
    }
}
