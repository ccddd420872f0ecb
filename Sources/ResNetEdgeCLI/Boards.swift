import ArgumentParser
import EdgeBoards
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

struct Boards: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "List the board profiles, show one, or detect the board this runs on.",
        discussion: "Profiles are built in (boards/*.json at build time); --boards-dir reads a directory instead (the .deb installs /usr/share/resnet-edge/boards).")

    @Option(name: .long, help: ArgumentHelp("Show this profile, or 'auto' to detect the board from /proc/device-tree/model, the CPU part numbers in /proc/cpuinfo and HWCAP.", valueName: "name|auto"))
    var board: String?

    @Option(name: .long, help: "Read profiles from this directory instead of the built-in ones.")
    var boardsDir: String?

    @Flag(name: .long, help: "Print JSON.")
    var json = false

    func run() throws {
        let catalog = try boardsDir.map(BoardCatalog.load(directory:)) ?? .builtin()
        if board == "auto" {
            let d = BoardDetector.detect(catalog: catalog)
            if json {
                var object: [String: Any] = ["architecture": d.architecture, "cpu_parts": d.cpuParts, "hwcap": d.hwcapFeatures, "reason": d.reason]
                object["device_tree_model"] = d.deviceTreeModel
                object["qemu_cpu"] = d.qemuCPU
                object["board"] = d.profile.name
                object["known_board"] = d.isKnownBoard
                object["cores"] = d.cores
                print(jsonLine(object))
            } else {
                print("architecture:       \(d.architecture)")
                print("device-tree model:  \(d.deviceTreeModel ?? "none")")
                print("CPU parts:          \(d.cpuParts.isEmpty ? "none" : d.cpuParts.joined(separator: " "))")
                print("HWCAP:              \(d.hwcapFeatures.isEmpty ? "n/a" : d.hwcapFeatures.joined(separator: " "))")
                if let q = d.qemuCPU { print("QEMU_CPU:           \(q)") }
                print("cores:              \(d.cores)")
                print("board:              \(d.profile.name) (\(d.reason))")
                print("kernels:            \(d.profile.kernels.prefer.joined(separator: ", "))")
            }
            return
        }
        if let board {
            let profile = try catalog.profile(named: board)
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
            print(String(decoding: try encoder.encode(profile), as: UTF8.self))
            return
        }
        if json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
            for p in catalog.profiles { print(String(decoding: try encoder.encode(p), as: UTF8.self)) }
            return
        }
        func pad(_ s: String, _ n: Int) -> String { s.count >= n ? s : s + String(repeating: " ", count: n - s.count) }
        print(pad("board", 18) + pad("core", 14) + pad("cores", 7) + pad("dotprod", 9) + pad("fp16", 6) + pad("L2 KiB", 10) + pad("threads", 9) + "kernels")
        for p in catalog.profiles {
            print(pad(p.name, 18) + pad(p.cpu.core, 14) + pad(String(p.cpu.cores), 7) + pad(p.cpu.dot_product ? "yes" : "no", 9)
                  + pad(p.cpu.fp16_arithmetic ? "yes" : "no", 6) + pad(String(p.caches.l2_kib) + (p.caches.l2_shared ? "" : "/core"), 10)
                  + pad(String(p.default_threads), 9) + p.kernels.prefer.joined(separator: ","))
        }
    }
}
