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

    @Test func dotProductBoardsPreferTheDotProductKernels() {
        for p in BoardCatalog.builtin().profiles {
            #expect(p.kernels.prefer.first == (p.cpu.dot_product ? "neondot" : "neon"), "\(p.name)")
            #expect(p.default_threads == p.cpu.cores)
        }
    }

    static let a72cpuinfo = """
        processor\t: 0
        BogoMIPS\t: 108.00
        Features\t: fp asimd evtstrm crc32 cpuid
        CPU implementer\t: 0x41
        CPU architecture: 8
        CPU variant\t: 0x0
        CPU part\t: 0xd08
        CPU revision\t: 3
        """

    @Test func detectsRaspberryPi4FromTheDeviceTree() {
        let d = BoardDetector.detect(catalog: .builtin(), deviceTreeModel: "Raspberry Pi 4 Model B Rev 1.4", cpuinfo: Self.a72cpuinfo,
                                     hwcap: 0x8fb, environment: [:])
        #expect(d.profile?.name == "rpi4")
        #expect(d.reason.contains("device-tree model"))
        #expect(d.cpuParts == ["0xd08"])
    }

    @Test func detectsByCPUPartWhenTheModelIsUnknown() {
        let cpuinfo = Self.a72cpuinfo.replacingOccurrences(of: "0xd08", with: "0xd42")
        let d = BoardDetector.detect(catalog: .builtin(), deviceTreeModel: "Some Carrier Board", cpuinfo: cpuinfo, hwcap: 0x119ffb, environment: [:])
        #expect(d.profile?.name == "jetson-orin-nano")
        #expect(d.reason.contains("CPU part 0xd42"))
    }

    @Test func detectsJetsonNanoAndRaspberryPi5() {
        let nano = BoardDetector.detect(catalog: .builtin(), deviceTreeModel: "NVIDIA Jetson Nano Developer Kit", cpuinfo: "", hwcap: nil, environment: [:])
        #expect(nano.profile?.name == "jetson-nano")
        let pi5 = BoardDetector.detect(catalog: .builtin(), deviceTreeModel: "Raspberry Pi 5 Model B Rev 1.0", cpuinfo: "", hwcap: nil, environment: [:])
        #expect(pi5.profile?.name == "rpi5")
    }

    @Test func theLiveMachineIsDescribed() {
        let d = BoardDetector.detect(catalog: .builtin())
        #if arch(arm64)
        // Under qemu-user in CI the emulated HWCAP decides: cortex-a76 has the dot product, cortex-a72 has not.
        let dot = d.hwcapFeatures.contains("asimddp")
        #expect(d.profile != nil)
        #expect(d.profile?.cpu.dot_product == dot)
        if let q = ProcessInfo.processInfo.environment["QEMU_CPU"] { #expect(d.profile?.name == "qemu-" + q.replacingOccurrences(of: "cortex-", with: "")) }
        #else
        #expect(d.profile == nil)
        #expect(d.reason.contains("not a known board"))
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
