import EdgeProbe
import EdgeProbeTool
import Foundation
import Testing
import TestSupport

extension ProbeSuites {
    @Suite struct CompareTests {
        /// Two real runs that differ in their thread counts: the headlines are compared, the configurations each has alone are
        /// listed as such, and the layers are matched by name.
        @Test func differentThreadCountsGiveTheExpectedRows() throws {
            let a = try ProbeFixtures.run(ProbeFixtures.reference, threads: [1], batches: [1])
            let b = try ProbeFixtures.run(ProbeFixtures.reference, threads: [2], batches: [1])
            // Through the JSON, as the command reads them.
            let ra = try ProbeResult.decode(try a.jsonData()), rb = try ProbeResult.decode(try b.jsonData())
            let c = ProbeComparison.compare(ra, rb, aName: "a.json", bName: "b.json", thresholdPercent: 5)

            let overall = c.rows.filter { $0.section == "overall" }
            #expect(Set(overall.map(\.metric)) == ["p50_ms", "p90_ms", "p99_ms", "p999_ms", "max_ms", "mean_ms", "images_per_second"])
            #expect(overall.allSatisfy { $0.name == "b1 t1 -> b1 t2" && $0.a != nil && $0.b != nil && $0.change_percent != nil })
            #expect(c.notes.contains { $0.contains("headline configurations differ") })

            let configurations = c.rows.filter { $0.section == "configuration" }
            #expect(configurations.count == 2)
            #expect(configurations.contains { $0.name == "b1 t1" && $0.verdict == "only in A" && $0.a != nil && $0.b == nil })
            #expect(configurations.contains { $0.name == "b1 t2" && $0.verdict == "only in B" && $0.a == nil && $0.b != nil })

            let layers = c.rows.filter { $0.section == "layer" }
            let stepsA = ra.headlineConfiguration!.layers.steps
            let listed = stepsA.filter { s in s.share >= 0.005 || rb.headlineConfiguration!.layers.steps.first { $0.label == s.label }!.share >= 0.005 }
            #expect(layers.count == listed.count)
            #expect(Set(layers.map(\.name)) == Set(listed.map(\.label)))
            #expect(layers.allSatisfy { $0.metric == "mean_ms" && ["slower", "faster", "same"].contains($0.verdict) })
            // Sorted by the size of the change within each section, changed rows first.
            for section in ["overall", "layer"] {
                let rows = c.rows.filter { $0.section == section }
                let changed = rows.prefix { $0.verdict == "slower" || $0.verdict == "faster" }
                #expect(zip(changed, changed.dropFirst()).allSatisfy { abs($0.change_percent!) >= abs($1.change_percent!) })
                #expect(rows.dropFirst(changed.count).allSatisfy { $0.verdict == "same" })
            }
            let text = c.renderText()
            #expect(text.contains("Overall") && text.contains("Per configuration") && text.contains("Per layer"))
            #expect(text.contains("only in A") && text.contains("only in B"))
        }

        /// A constructed change: B's p50 50 % higher in one configuration, a layer twice as slow, another 2 % faster (noise).
        @Test func changesAreClassifiedAgainstTheNoiseThreshold() throws {
            let a = try ProbeFixtures.run(ProbeFixtures.reference, threads: [1], batches: [1, 2])
            var b = a
            let slowLayer = a.headlineConfiguration!.layers.steps.max { $0.mean_ms < $1.mean_ms }!
            let noiseLayer = a.headlineConfiguration!.layers.steps.filter { $0.label != slowLayer.label }.max { $0.mean_ms < $1.mean_ms }!
            for i in b.configurations.indices {
                if b.configurations[i].batch == 2 {
                    b.configurations[i].latency.p50_ms *= 1.5
                    b.configurations[i].latency.p99_ms *= 1.5
                    b.configurations[i].images_per_second /= 1.5
                }
                if b.configurations[i].key == b.headline {
                    for j in b.configurations[i].layers.steps.indices {
                        if b.configurations[i].layers.steps[j].label == slowLayer.label { b.configurations[i].layers.steps[j].mean_ms *= 2 }
                        if b.configurations[i].layers.steps[j].label == noiseLayer.label { b.configurations[i].layers.steps[j].mean_ms *= 0.98 }
                    }
                }
            }
            let c = ProbeComparison.compare(a, b, thresholdPercent: 5)
            #expect(!c.notes.contains { $0.contains("differ") || $0.contains("throttled") }, "\(c.notes)")
            #expect(c.rows.filter { $0.section == "overall" }.allSatisfy { $0.verdict == "same" && $0.change_percent == 0 })
            let b2 = c.rows.filter { $0.section == "configuration" && $0.name == "b2 t1" }
            #expect(b2.count == 3 && b2.allSatisfy { $0.verdict == "slower" })
            #expect(b2.first { $0.metric == "p50_ms" }.map { abs($0.change_percent! - 50) < 1e-9 } == true)
            #expect(c.rows.filter { $0.section == "configuration" && $0.name == "b1 t1" }.allSatisfy { $0.verdict == "same" })
            let layers = c.rows.filter { $0.section == "layer" }
            #expect(layers.first?.name == slowLayer.label && layers.first?.verdict == "slower")
            #expect(layers.first.map { abs($0.change_percent! - 100) < 1e-9 } == true)
            #expect(layers.first { $0.name == noiseLayer.label }?.verdict == "same")
            #expect(c.slower.count == 4 && c.faster.isEmpty)
            // A tighter threshold turns the 2 % into a change.
            let tight = ProbeComparison.compare(a, b, thresholdPercent: 1)
            #expect(tight.rows.first { $0.section == "layer" && $0.name == noiseLayer.label }?.verdict == "faster")
        }

        @Test func decodeRefusesOtherSchemasAndNewerVersions() throws {
            #expect(throws: ProbeError.self) { _ = try ProbeResult.decode(Data("[1,2]".utf8)) }
            #expect(throws: ProbeError.self) { _ = try ProbeResult.decode(Data(#"{"schema": "other", "schema_version": 1}"#.utf8)) }
            do {
                _ = try ProbeResult.decode(Data(#"{"schema": "resnet-edge-probe", "schema_version": 99}"#.utf8))
                Issue.record("a newer version decoded")
            } catch let e as ProbeError {
                #expect(e.description.contains("newer"))
            }
            do {
                _ = try ProbeResult.decode(Data(#"{"schema": "resnet-edge-probe", "schema_version": 1}"#.utf8))
                Issue.record("an incomplete result decoded")
            } catch let e as ProbeError {
                #expect(e.description.contains("missing key"))
            }
        }
    }

    /// The command as a user runs it: `probe` writes the JSON and the report, `probe compare` reads them.
    @Suite struct ProbeCommandTests {
        static var binary: URL { Bundle.main.bundleURL.appendingPathComponent("resnet-edge") }

        func run(_ arguments: [String]) throws -> (status: Int32, stdout: String, stderr: String) {
            let process = Process()
            process.executableURL = Self.binary
            process.arguments = arguments
            let out = Pipe(), err = Pipe()
            process.standardOutput = out
            process.standardError = err
            try process.run()
            let stdout = out.fileHandleForReading.readDataToEndOfFile(), stderr = err.fileHandleForReading.readDataToEndOfFile()
            process.waitUntilExit()
            return (process.terminationStatus, String(decoding: stdout, as: UTF8.self), String(decoding: stderr, as: UTF8.self))
        }

        @Test func probeThenCompare() throws {
            let dir = FileManager.default.temporaryDirectory.appendingPathComponent("probe-cli-\(UUID().uuidString)")
            try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
            defer { try? FileManager.default.removeItem(at: dir) }
            let json = dir.appendingPathComponent("probe.json").path, html = dir.appendingPathComponent("probe.html").path
            let r = try run(["probe", "--model", ProbeFixtures.reference, "--threads", "1", "--batch", "1", "--duration", "100ms",
                             "--warmup", "1", "--min-runs", "2", "--source", "pattern", "--frame-size", "64x48", "--fps", "100",
                             "--out", json, "--report", html])
            #expect(r.status == 0, "\(r.stderr)")
            #expect(r.stdout.contains("b1 t1") && r.stdout.contains("camera_to_result") && r.stdout.contains("per layer"))
            let result = try ProbeResult.load(path: json)
            #expect(result.consistencyProblems().isEmpty, "\(result.consistencyProblems())")
            #expect(result.tool.command.starts(with: ["resnet-edge", "probe"]))
            let report = try String(contentsOfFile: html, encoding: .utf8)
            for id in ProbeReport.chartIDs { #expect(report.contains("<svg id=\"\(id)\"")) }

            // `probe report` renders the same report again from the JSON alone (a result copied off a board).
            let again = dir.appendingPathComponent("again.html").path
            let rr = try run(["probe", "report", json, "--report", again])
            #expect(rr.status == 0, "\(rr.stderr)")
            #expect(rr.stdout.contains("b1 t1") && rr.stdout.contains("per layer"))
            #expect(try String(contentsOfFile: again, encoding: .utf8) == report)

            let c = try run(["probe", "compare", json, json])
            #expect(c.status == 0, "\(c.stderr)")
            #expect(c.stdout.contains("0 slower, 0 faster"))
            let bad = try run(["probe", "compare", json, html])
            #expect(bad.status != 0 && bad.stderr.contains("not a JSON object"))
            let usage = try run(["probe", "--model", ProbeFixtures.reference, "--threads", "1,x"])
            #expect(usage.status != 0 && usage.stderr.contains("--threads"))
        }
    }
}
