import Testing
@testable import EdgeDaemon

/// The TOML reader: the whole of TOML 1.0 that a configuration can use, with the line of every key.
@Suite struct TOMLTests {
    func parse(_ text: String) throws -> TOMLTable { try TOML.parse(text) }

    func error(_ text: String) -> TOMLError? {
        do { _ = try TOML.parse(text); return nil } catch let e as TOMLError { return e } catch { return nil }
    }

    @Test func scalarsAndTheirLines() throws {
        let t = try parse("""
        # comment
        a = 1
        b = "x"   # trailing comment

        c = true
        d = 1.5
        """)
        #expect(t["a"] == .integer(1))
        #expect(t["b"] == .string("x"))
        #expect(t["c"] == .bool(true))
        #expect(t["d"] == .float(1.5))
        #expect(t.entry("a")?.line == 2)
        #expect(t.entry("c")?.line == 5)
    }

    @Test func integers() throws {
        let t = try parse("a = +99\nb = -17\nc = 1_000\nd = 0xDEAD_beef\ne = 0o755\nf = 0b1101\ng = 0")
        #expect(t["a"] == .integer(99))
        #expect(t["b"] == .integer(-17))
        #expect(t["c"] == .integer(1000))
        #expect(t["d"] == .integer(0xdeadbeef))
        #expect(t["e"] == .integer(0o755))
        #expect(t["f"] == .integer(13))
        #expect(t["g"] == .integer(0))
        #expect(error("a = 01") != nil)
        #expect(error("a = 1__0") != nil)
        #expect(error("a = _1") != nil)
    }

    @Test func floats() throws {
        let t = try parse("a = 3.14\nb = -0.01\nc = 5e+22\nd = 6.626e-34\ne = inf\nf = -inf\ng = 1_000.5\nh = 1E6")
        #expect(t["a"] == .float(3.14))
        #expect(t["b"] == .float(-0.01))
        #expect(t["c"] == .float(5e22))
        #expect(t["d"] == .float(6.626e-34))
        #expect(t["e"] == .float(.infinity))
        #expect(t["f"] == .float(-.infinity))
        #expect(t["g"] == .float(1000.5))
        #expect(t["h"] == .float(1e6))
        if case .float(let v)? = try parse("n = nan")["n"] { #expect(v.isNaN) } else { Issue.record("nan") }
        #expect(error("a = 1.") != nil)
        #expect(error("a = .5") != nil)
    }

    @Test func strings() throws {
        let t = try parse(#"""
        a = "tab\there \"q\" \u00e9 \U0001F600 back\\slash"
        b = 'C:\Users\literal'
        c = """
        line one
        line two"""
        d = """\
            trimmed \
            continuation"""
        e = '''
        raw \n text'''
        f = ""
        "quoted key" = 1
        'literal key' = 2
        """#)
        #expect(t["a"] == .string("tab\there \"q\" é 😀 back\\slash"))
        #expect(t["b"] == .string(#"C:\Users\literal"#))
        #expect(t["c"] == .string("line one\nline two"))
        #expect(t["d"] == .string("trimmed continuation"))
        #expect(t["e"] == .string(#"raw \n text"#))
        #expect(t["f"] == .string(""))
        #expect(t["quoted key"] == .integer(1))
        #expect(t["literal key"] == .integer(2))
        #expect(error("a = \"unterminated\nb = 1") != nil)
        #expect(error(#"a = "bad \q escape""#)?.message.contains("unknown escape") == true)
    }

    @Test func arraysAndInlineTables() throws {
        let t = try parse("""
        a = [1, 2, 3]
        b = [
          "x",   # comment
          "y",
        ]
        c = []
        d = { x = 1, y.z = "w" }
        e = [[1, 2], ["a"]]
        """)
        #expect(t["a"] == .array([.integer(1), .integer(2), .integer(3)]))
        #expect(t["b"] == .array([.string("x"), .string("y")]))
        #expect(t["c"] == .array([]))
        guard case .table(let d)? = t["d"], case .table(let y)? = d["y"] else { Issue.record("inline table"); return }
        #expect(d["x"] == .integer(1))
        #expect(y["z"] == .string("w"))
        #expect(t["e"] == .array([.array([.integer(1), .integer(2)]), .array([.string("a")])]))
        #expect(error("a = [1, 2") != nil)
        #expect(error("a = { x = 1\n}") != nil)
    }

    @Test func tablesDottedKeysAndArraysOfTables() throws {
        let t = try parse("""
        top = 0
        [model]
        path = "m.onnx"
        [source.camera]
        device = "/dev/video0"
        [[cams]]
        name = "a"
        [[cams]]
        name = "b"
        [x]
        y.z = 1
        """)
        guard case .table(let model)? = t["model"], case .table(let source)? = t["source"], case .table(let camera)? = source["camera"],
              case .array(let cams)? = t["cams"], case .table(let x)? = t["x"], case .table(let y)? = x["y"] else {
            Issue.record("structure"); return
        }
        #expect(model["path"] == .string("m.onnx"))
        #expect(model.line == 2)
        #expect(model.entry("path")?.line == 3)
        #expect(camera["device"] == .string("/dev/video0"))
        #expect(cams.count == 2)
        #expect(y["z"] == .integer(1))
    }

    @Test func datesAreKeptAsText() throws {
        let t = try parse("a = 1979-05-27T07:32:00Z\nb = 1979-05-27\nc = 07:32:00\nd = 1979-05-27 07:32:00")
        #expect(t["a"] == .datetime("1979-05-27T07:32:00Z"))
        #expect(t["b"] == .datetime("1979-05-27"))
        #expect(t["c"] == .datetime("07:32:00"))
        #expect(t["d"] == .datetime("1979-05-27 07:32:00"))
    }

    @Test func errorsHaveLineAndColumn() throws {
        let e = try #require(error("a = 1\nb = 2\nc = nope\n"))
        #expect(e.line == 3)
        #expect(e.column == 5)
        #expect(e.message.contains("strings need quotes"))

        let dup = try #require(error("[s]\na = 1\na = 2"))
        #expect(dup.line == 3)
        #expect(dup.message.contains("duplicate key 's.a'"))
        #expect(dup.message.contains("line 2"))

        let twice = try #require(error("[s]\n[t]\n[s]\n"))
        #expect(twice.line == 3)
        #expect(twice.message.contains("defined twice"))

        #expect(error("a = 1 b = 2")?.message.contains("end of the line") == true)
        #expect(error("= 1") != nil)
        #expect(error("a.b = 1\na = 2")?.message.contains("duplicate") == true)
        #expect(error("a = 1\na.b = 2")?.message.contains("already a value") == true)
        #expect(error("[a]\nx = 1\n[a.x]")?.message.contains("already a value") == true)
        #expect(error("a = {x = 1}\n[a]") != nil)
    }

    @Test func crlfAndBOM() throws {
        let t = try parse("\u{FEFF}a = 1\r\nb = \"x\"\r\n")
        #expect(t["a"] == .integer(1))
        #expect(t.entry("b")?.line == 2)
    }
}
