import EdgeBoards
import Foundation
import Testing
import TestSupport

@Suite struct BoardProfileTests {
    static let boardsDirectory = TestPaths.repositoryRoot.appendingPathComponent("boards").path

    @Test func builtinProfilesEqualTheFilesInBoards() throws {
        let files = try BoardCatalog.load(directory: Self.boardsDirectory)
        let builtin = BoardCatalog.builtin()
        #expect(builtin.profiles == files.profiles, "boards/ changed: run scripts/generate-board-profiles.sh")
        #expect(Set(builtin.profiles.map(\.name)) == ["rpi4", "rpi5", "jetson-nano", "jetson-orin-nano", "qemu-a72", "qemu-a76"])
    }

    @Test func profilesMatchByDeviceTreeAndNeverStartWithGeneric() {
        for p in BoardCatalog.builtin().profiles {
            #expect(!(p.match.device_tree_models ?? []).isEmpty || p.match.qemu_cpu != nil, "\(p.name)")
            #expect(!p.isGeneric)
        }
    }

    @Test func dotProductBoardsPreferTheDotProductKernels() {
        for p in BoardCatalog.builtin().profiles {
            #expect(p.kernels.prefer.first == (p.cpu.dot_product ? "neondot" : "neon"), "\(p.name)")
            #expect(p.default_threads == p.cpu.cores)
        }
    }

    static let machines = TestPaths.repositoryRoot.appendingPathComponent("Tests/Fixtures/boards").path

    /// Each fixture machine (Tests/Fixtures/boards/NAME/proc/...): the profile it must get, its cores and first kernel.
    static let expected: [(machine: String, arch: String, profile: String, cores: Int, kernel: String)] = [
        ("rpi4", "aarch64", "rpi4", 4, "neon"),
        ("pi400", "aarch64", "rpi4", 4, "neon"),
        ("cm4", "aarch64", "rpi4", 4, "neon"),
        ("rpi5", "aarch64", "rpi5", 4, "neondot"),
        ("cm5", "aarch64", "rpi5", 4, "neondot"),
        ("jetson-nano", "aarch64", "jetson-nano", 4, "neon"),
        ("jetson-orin-nano", "aarch64", "jetson-orin-nano", 6, "neondot"),
        // The same cores on boards that are none of ours: generic profiles of the core type, never a Pi's.
        ("rock5b-rk3588", "aarch64", "generic-cortex-a76", 8, "neondot"),
        ("rockpro64-rk3399", "aarch64", "generic-cortex-a72", 6, "neon"),
        ("rpi3", "aarch64", "generic-cortex-a53", 4, "neon"),
        ("arm-server-no-dt", "aarch64", "generic-neoverse-n1", 2, "neondot"),
        ("x86-host", "x86_64", "generic-x86-64", 2, "avx512vnni"),
        ("x86-avx2-minipc", "x86_64", "generic-x86-64", 4, "avx2"),
    ]

    @Test(arguments: expected.map(\.machine))
    func fixtureMachinesGetTheirProfile(machine: String) throws {
        let e = try #require(Self.expected.first { $0.machine == machine })
        let d = BoardDetector.detect(catalog: .builtin(), machineRoot: Self.machines + "/" + machine, architecture: e.arch)
        #expect(d.profile.name == e.profile, "\(machine): \(d.reason)")
        #expect(d.cores == e.cores)
        #expect(d.profile.default_threads == e.cores || d.isKnownBoard)
        #expect(d.profile.kernels.prefer.first == e.kernel, "\(machine): \(d.profile.kernels.prefer)")
        #expect(d.isKnownBoard == !e.profile.hasPrefix("generic-"))
        if d.isKnownBoard {
            #expect(d.reason.contains("device-tree model"), "\(d.reason)")
        } else {
            #expect(d.reason.contains("no known board"), "\(d.reason)")
            #expect(d.knownBoardName == nil)
        }
    }

    @Test func theDeviceTreeDecidesNotTheCPUPart() {
        // A Pi 4's device tree with any cores is a Pi 4; a Pi 4's cores without it are not.
        let pi4 = BoardDetector.detect(catalog: .builtin(), deviceTreeModel: "Raspberry Pi 4 Model B Rev 1.5", cpuinfo: "",
                                       hwcap: 0x8fb, environment: [:], architecture: "aarch64", onlineCPUs: 4)
        #expect(pi4.profile.name == "rpi4")
        #expect(pi4.cores == 4)
        let a72 = (try? String(contentsOfFile: Self.machines + "/rpi4/proc/cpuinfo", encoding: .utf8)) ?? ""
        let other = BoardDetector.detect(catalog: .builtin(), deviceTreeModel: "Some Carrier Board", cpuinfo: a72, hwcap: 0x8fb,
                                         environment: [:], architecture: "aarch64")
        #expect(other.profile.name == "generic-cortex-a72")
        #expect(other.reason.contains("'Some Carrier Board' is no known board"))
        #expect(other.cpuParts == ["0xd08"])
        // HWCAP, when given, is what the kernels are chosen by (cpuinfo's Features may be a container's copy).
        let dot = BoardDetector.detect(catalog: .builtin(), deviceTreeModel: nil, cpuinfo: a72, hwcap: 0x119ffb, environment: [:],
                                       architecture: "aarch64")
        #expect(dot.profile.kernels.prefer == ["neondot", "neon", "scalar"])
        #expect(dot.profile.cpu.dot_product)
        // Jetson Orin Nano's model string contains "Nano" but is not the Jetson Nano.
        let orin = BoardDetector.detect(catalog: .builtin(), deviceTreeModel: "NVIDIA Jetson Orin Nano Engineering Reference Developer Kit Super",
                                        cpuinfo: "", hwcap: nil, environment: [:], architecture: "aarch64", onlineCPUs: 6)
        #expect(orin.profile.name == "jetson-orin-nano")
    }

    @Test func qemuUserIsTakenFromQEMUCPU() {
        let d = BoardDetector.detect(catalog: .builtin(), deviceTreeModel: nil, cpuinfo: "", hwcap: 0x8fb, environment: ["QEMU_CPU": "cortex-a72"],
                                     architecture: "aarch64", onlineCPUs: 2)
        #expect(d.profile.name == "qemu-a72")
        #expect(d.isKnownBoard)
        // On x86 QEMU_CPU means nothing to us.
        let x86 = BoardDetector.detect(catalog: .builtin(), deviceTreeModel: nil, cpuinfo: "", hwcap: 0b011, environment: ["QEMU_CPU": "cortex-a72"],
                                       architecture: "x86_64", onlineCPUs: 2)
        #expect(x86.profile.name == "generic-x86-64")
        #expect(x86.profile.kernels.prefer == ["avx2", "scalar"])
    }

    @Test func genericProfilesAreValidAndNotInTheCatalog() throws {
        for e in Self.expected where e.profile.hasPrefix("generic-") {
            let d = BoardDetector.detect(catalog: .builtin(), machineRoot: Self.machines + "/" + e.machine, architecture: e.arch)
            #expect(throws: Never.self) { try BoardCatalog.builtin().profile(named: "rpi4") }
            #expect(!BoardCatalog.builtin().profiles.contains { $0.name == d.profile.name })
            #expect(d.profile.cpu.cores == e.cores)
            #expect(d.profile.sysfs.cpufreq_current == nil, "a generic profile reads the machine's own sensors")
        }
    }

    @Test func theLiveMachineIsDescribed() {
        let d = BoardDetector.detect(catalog: .builtin())
        #if arch(arm64)
        // Under qemu-user in CI the emulated HWCAP decides: cortex-a76 has the dot product, cortex-a72 has not.
        let dot = d.hwcapFeatures.contains("asimddp")
        #expect(d.profile.cpu.dot_product == dot)
        if let q = ProcessInfo.processInfo.environment["QEMU_CPU"] { #expect(d.profile.name == "qemu-" + q.replacingOccurrences(of: "cortex-", with: "")) }
        #else
        #expect(d.profile.name == "generic-x86-64")
        #expect(!d.isKnownBoard)
        #expect(d.reason.contains("no known board"))
        #expect(d.profile.default_threads == d.cores)
        #endif
    }

    @Test func invalidProfilesNameTheKey() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("boards-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        var json = try String(contentsOfFile: Self.boardsDirectory + "/rpi4.json", encoding: .utf8)
        json = json.replacingOccurrences(of: "\"default_threads\": 4", with: "\"default_threads\": 9")
        try json.write(to: dir.appendingPathComponent("rpi4.json"), atomically: true, encoding: .utf8)
        #expect(throws: BoardError("\(dir.path)/rpi4.json: default_threads must be between 1 and cpu.cores (4)")) {
            try BoardCatalog.load(directory: dir.path)
        }
        try "{\"name\": \"x\"}".write(to: dir.appendingPathComponent("rpi4.json"), atomically: true, encoding: .utf8)
        #expect { try BoardCatalog.load(directory: dir.path) } throws: { "\($0)".contains("missing key") }
    }
}
