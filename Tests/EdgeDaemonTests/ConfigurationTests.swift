import Foundation
import Testing
import TestSupport
@testable import EdgeDaemon

/// Every class of configuration error names the key (and the file and line); valid files give what they say.
@Suite struct ConfigurationTests {
    static let file = "/etc/resnet-edge/test.toml"

    func parse(_ text: String) throws -> DaemonConfiguration { try ConfigurationLoader.parse(text, file: Self.file) }

    func issues(_ text: String) -> [ConfigIssue] {
        do {
            _ = try parse(text)
            Issue.record("expected an error for:\n\(text)")
            return []
        } catch let error as ConfigError {
            return error.issues
        } catch {
            Issue.record("unexpected \(error)")
            return []
        }
    }

    func single(_ text: String, sourceLocation: SourceLocation = #_sourceLocation) -> ConfigIssue? {
        let all = issues(text)
        #expect(all.count == 1, "\(all)", sourceLocation: sourceLocation)
        return all.first
    }

    static let minimal = "[model]\npath = \"m.onnx\"\n"

    @Test func minimalFileTakesDefaultsAndResolvesPaths() throws {
        let c = try parse(Self.minimal)
        #expect(c.model.path == "/etc/resnet-edge/m.onnx")
        #expect(c.file == Self.file)
        var expected = DaemonConfiguration.defaults(modelPath: "/etc/resnet-edge/m.onnx")
        expected.file = Self.file
        #expect(c == expected)
    }

    @Test func everyKeyIsRead() throws {
        let c = try parse("""
        [model]
        path = "/models/r18.rem"
        labels = "labels.txt"
        preprocess = "fashion-mnist"
        board = "rpi4"
        threads = 3
        kernels = "neon"
        precision = "fp32"
        [source]
        kind = "raw"
        device = "/dev/video2"
        width = 320
        height = 240
        fps = 12.5
        pixel_format = "nv12"
        buffers = 6
        path = "/data/frames.nv12"
        reopen_backoff = 0.25
        [results]
        socket = "/run/x.sock"
        socket_mode = 0o600
        http_listen = "[::1]:9000"
        top_k = 3
        publish_hz = 5
        client_queue = 8
        max_clients = 2
        [health]
        stale_after = 2
        status_interval = 0.5
        reload_timeout = 3
        ready_timeout = 0
        [log]
        level = "debug"
        summary_interval = 0
        """)
        #expect(c.model == .init(path: "/models/r18.rem", labels: "/etc/resnet-edge/labels.txt", preprocess: "fashion-mnist", board: "rpi4",
                                 threads: 3, kernels: "neon", precision: "fp32"))
        #expect(c.source == .init(kind: .raw, device: "/dev/video2", width: 320, height: 240, fps: 12.5, pixelFormat: "nv12", buffers: 6,
                                  path: "/data/frames.nv12", reopenBackoff: 0.25))
        #expect(c.results == .init(socket: "/run/x.sock", socketMode: 0o600, httpListen: "[::1]:9000", topK: 3, publishHz: 5, clientQueue: 8,
                                   maxClients: 2))
        #expect(c.httpEndpoint! == ("::1", 9000))
        #expect(c.health == .init(staleAfter: 2, statusInterval: 0.5, reloadTimeout: 3, readyTimeout: 0))
        #expect(c.log == .init(level: "debug", summaryInterval: 0))
    }

    /// The shipped default file is valid, and documents every key the loader knows (and no other).
    @Test func defaultFileDocumentsEveryKey() throws {
        let url = TestPaths.repositoryRoot.appendingPathComponent("systemd/resnet-edge.toml")
        let text = try String(contentsOf: url, encoding: .utf8)
        let c = try ConfigurationLoader.parse(text, file: url.path)
        #expect(c.source.kind == .camera && c.source.device == "/dev/video0")
        #expect(c.results.httpListen == "127.0.0.1:8089")
        let root = try TOML.parse(text)
        for (section, keys) in ConfigurationLoader.schema {
            guard case .table(let table)? = root[section] else { Issue.record("[\(section)] missing from the default file"); continue }
            #expect(table.keys == keys, "[\(section)] in the default file: \(table.keys) vs the loader's \(keys)")
        }
        // package-deb.sh rewrites this line for the board it packages.
        #expect(text.contains("\nboard = \"auto\"\n"))
        // And the README documents every key too.
        let readme = try String(contentsOf: TestPaths.repositoryRoot.appendingPathComponent("README.md"), encoding: .utf8)
        for (section, keys) in ConfigurationLoader.schema {
            for key in keys { #expect(readme.contains("`\(section).\(key)`"), "README does not document \(section).\(key)") }
        }
    }

    // MARK: - Unknown names

    @Test func unknownKeyNamesFileLineAndSuggests() throws {
        let issue = try #require(single("[model]\npath = \"m.onnx\"\n[source]\nkind = \"pattern\"\nwidht = 640\n"))
        #expect(issue.file == Self.file)
        #expect(issue.line == 5)
        #expect(issue.key == "source.widht")
        #expect(issue.message == "unknown key 'widht' in [source]; did you mean 'width'?")
        #expect(issue.description.hasPrefix("\(Self.file):5: "))
    }

    @Test func suggestionsForNearMissesOnly() {
        #expect(ConfigurationLoader.suggestion(for: "treads", among: ["threads", "kernels"]) == "threads")
        #expect(ConfigurationLoader.suggestion(for: "http", among: ["http_listen", "socket"]) == "http_listen")
        #expect(ConfigurationLoader.suggestion(for: "pixelformat", among: ["pixel_format"]) == "pixel_format")
        #expect(ConfigurationLoader.suggestion(for: "Width", among: ["width"]) == "width")
        #expect(ConfigurationLoader.suggestion(for: "colour", among: ["width", "height", "kind"]) == nil)
    }

    @Test func keyInTheWrongSection() throws {
        let issue = try #require(single(Self.minimal + "[source]\nthreads = 2\n"))
        #expect(issue.key == "source.threads")
        #expect(issue.message.contains("belongs under [model]"))
    }

    @Test func unknownKeyWithoutNearMissListsTheKeys() throws {
        let issue = try #require(single(Self.minimal + "[log]\ncolour = true\n"))
        #expect(issue.message.contains("keys of [log]: level, summary_interval"))
    }

    @Test func unknownSection() throws {
        let issue = try #require(single(Self.minimal + "\n[resluts]\ntop_k = 3\n"))
        #expect(issue.line == 4)
        #expect(issue.key == "[resluts]")
        #expect(issue.message == "unknown section [resluts]; did you mean [results]?")
        let camera = try #require(single(Self.minimal + "[camera]\ndevice = \"/dev/video0\"\n"))
        #expect(camera.message.contains("[source] (kind = \"camera\")"))
    }

    @Test func keyOutsideAnySection() throws {
        let issue = try #require(single("top_k = 3\n" + Self.minimal))
        #expect(issue.line == 1)
        #expect(issue.message.contains("belongs under [results]"))
    }

    // MARK: - Types and ranges

    @Test func wrongTypesNameTheKey() throws {
        let quoted = try #require(single(Self.minimal + "[source]\nwidth = \"640\"\n"))
        #expect(quoted.key == "source.width")
        #expect(quoted.line == 4)
        #expect(quoted.message == "source.width must be an integer, not a string (remove the quotes)")

        let float = try #require(single(Self.minimal + "[source]\nwidth = 640.0\n"))
        #expect(float.message.contains("(write 640)"))

        let string = try #require(single("[model]\npath = 3\n"))
        #expect(string.message == "model.path must be a string (in quotes), not an integer")

        let number = try #require(single(Self.minimal + "[health]\nstale_after = \"5\"\n"))
        #expect(number.message.contains("health.stale_after must be a number"))

        let array = try #require(single(Self.minimal + "[results]\ntop_k = [5]\n"))
        #expect(array.message.contains("not an array"))

        let date = try #require(single(Self.minimal + "[log]\nlevel = 2024-01-01\n"))
        #expect(date.message.contains("not a date/time"))
    }

    @Test func outOfRangeNamesKeyAndRange() throws {
        let fps = try #require(single(Self.minimal + "[source]\nfps = 0\n"))
        #expect(fps.key == "source.fps")
        #expect(fps.message == "source.fps must be between 0.1 and 1000 frames per second, not 0")
        let threads = try #require(single("[model]\npath = \"m\"\nthreads = -1\n"))
        #expect(threads.message == "model.threads must be between 0 and 256, not -1")
        let topK = try #require(single(Self.minimal + "[results]\ntop_k = 0\n"))
        #expect(topK.key == "results.top_k")
        let mode = try #require(single(Self.minimal + "[results]\nsocket_mode = 0o1777\n"))
        #expect(mode.key == "results.socket_mode")
    }

    @Test func choicesSuggestTheNearest() throws {
        let kind = try #require(single(Self.minimal + "[source]\nkind = \"cammera\"\n"))
        #expect(kind.message == #"source.kind must be one of "camera", "images", "raw", "pattern", not "cammera"; did you mean "camera"?"#)
        let format = try #require(single(Self.minimal + "[source]\npixel_format = \"yuvy\"\n"))
        #expect(format.message.contains(#"did you mean "yuyv"?"#))
        let level = try #require(single(Self.minimal + "[log]\nlevel = \"verbose\"\n"))
        #expect(level.key == "log.level")
        let kernels = try #require(single("[model]\npath = \"m\"\nkernels = \"sse\"\n"))
        #expect(kernels.key == "model.kernels")
    }

    @Test func valuesCheckedBeyondTheirType() throws {
        let listen = try #require(single(Self.minimal + "[results]\nhttp_listen = \"8089\"\n"))
        #expect(listen.key == "results.http_listen")
        #expect(listen.message.contains("host:port"))
        #expect(single(Self.minimal + "[results]\nhttp_listen = \"::1:8089\"\n")?.key == "results.http_listen")
        #expect(single(Self.minimal + "[results]\nhttp_listen = \"127.0.0.1:70000\"\n")?.key == "results.http_listen")
        #expect(single(Self.minimal + "[results]\nsocket = \"results.sock\"\n")?.message.contains("absolute path") == true)
        let long = "/run/" + String(repeating: "x", count: 120)
        #expect(single(Self.minimal + "[results]\nsocket = \"\(long)\"\n")?.message.contains("at most 107") == true)
        #expect(single(Self.minimal + "[source]\ndevice = \"video0\"\n")?.key == "source.device")
        #expect(single("[model]\npath = \"\"\n")?.key == "model.path")
        #expect(single("[model]\npath = \"m\"\nboard = \"\"\n")?.key == "model.board")
        // Empty strings that mean "none" are fine.
        let c = try parse(Self.minimal + "[results]\nsocket = \"\"\nhttp_listen = \"\"\n")
        #expect(c.results.socket.isEmpty && c.httpEndpoint == nil)
    }

    @Test func sourceKindsNeedTheirKeys() throws {
        let images = try #require(single(Self.minimal + "[source]\nkind = \"images\"\n"))
        #expect(images.key == "source.path")
        #expect(images.line == 3)
        let raw = issues(Self.minimal + "[source]\nkind = \"raw\"\npath = \"/f.raw\"\n")
        #expect(raw.map(\.key) == ["source.pixel_format"])
        let rawMJPEG = issues(Self.minimal + "[source]\nkind = \"raw\"\npath = \"/f\"\npixel_format = \"mjpeg\"\n")
        #expect(rawMJPEG.first?.line == 6)
        #expect(single(Self.minimal + "[source]\nkind = \"pattern\"\npixel_format = \"mjpeg\"\n")?.key == "source.pixel_format")
        _ = try parse(Self.minimal + "[source]\nkind = \"images\"\npath = \"photos\"\n")
    }

    @Test func missingModel() throws {
        #expect(single("[source]\nkind = \"pattern\"\n")?.key == "[model]")
        let noPath = try #require(single("[model]\nthreads = 2\n"))
        #expect(noPath.key == "model.path")
        #expect(noPath.line == 1)
    }

    @Test func syntaxErrorsHaveTheLine() throws {
        let issue = try #require(single("[model]\npath = \"m.onnx\"\n[source]\nwidth = 640 480\n"))
        #expect(issue.line == 4)
        #expect(issue.message.hasPrefix("TOML syntax:"))
        let duplicate = try #require(single("[model]\npath = \"a\"\npath = \"b\"\n"))
        #expect(duplicate.line == 3)
        #expect(duplicate.message.contains("duplicate key 'model.path'"))
    }

    @Test func allIssuesAtOnce() {
        let all = issues("[model]\npath = \"m\"\nthreds = 2\n[source]\nfps = -1\nkind = \"usb\"\n[extra]\n")
        #expect(Set(all.compactMap(\.key)) == ["[extra]", "model.threds", "source.kind", "source.fps"])
        #expect(all.count == 4)
    }

    @Test func unreadableFile() {
        do {
            _ = try ConfigurationLoader.load(file: "/nonexistent/resnet-edge.toml")
            Issue.record("expected an error")
        } catch let error as ConfigError {
            #expect(error.description.hasPrefix("/nonexistent/resnet-edge.toml: cannot read the configuration"))
        } catch {
            Issue.record("\(error)")
        }
    }

    @Test func overridesUseTheSameChecks() throws {
        var c = try parse(Self.minimal)
        try ConfigurationLoader.apply(try TOML.parse("[source]\nkind = \"pattern\"\n[results]\nhttp_listen = \"127.0.0.1:0\""), to: &c, source: "command line")
        #expect(c.source.kind == .pattern)
        #expect(c.httpEndpoint! == ("127.0.0.1", 0))
        #expect(c.file == Self.file)
        do {
            try ConfigurationLoader.apply(try TOML.parse("[source]\nwidth = 1"), to: &c, source: "command line")
            Issue.record("expected an error")
        } catch let error as ConfigError {
            #expect(error.description == "command line: source.width must be between 16 and 8192 pixels, not 1")
        }
    }

    @Test func listenAddresses() {
        #expect(ListenAddress.parse("127.0.0.1:8089")! == ("127.0.0.1", 8089))
        #expect(ListenAddress.parse("localhost:0")! == ("localhost", 0))
        #expect(ListenAddress.parse("[::1]:80")! == ("::1", 80))
        #expect(ListenAddress.parse(":80") == nil)
        #expect(ListenAddress.parse("host") == nil)
        #expect(ListenAddress.parse("h:-1") == nil)
    }
}
