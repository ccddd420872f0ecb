#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

extension ConfigurationLoader {
    /// What `serve --check-config` adds to the syntax check: the files exist, the board is known, the source can be
    /// made, and the model loads (a model that fails here would fail the same way on reload). Returns one line per
    /// section for the report; throws `ConfigError` naming the key.
    public static func checkFiles(_ c: DaemonConfiguration) throws -> [String] {
        let file = c.file ?? "configuration"
        func fail(_ key: String, _ message: String) -> ConfigError {
            ConfigError([ConfigIssue(file: file, line: nil, key: key, message: "\(key): \(message)")])
        }
        let board: BoardChoice
        do { board = try BoardChoice.resolve(c.model.board) } catch { throw fail("model.board", "\(error)") }
        let engine: ModelEngine
        do { engine = try ModelEngine(c.model, board: board) } catch { throw fail("model.path", "\(c.model.path): \(error)") }
        do { _ = try SourceFactory.make(c.source) } catch { throw fail("source.path", "\(error)") }
        var lines = ["board: \(board.name) (\(board.reason))", "model: \(engine.summary)", "source: \(Daemon.describe(c.source))"]
        if c.source.kind == .camera && !FileManager.default.fileExists(atPath: c.source.device) {
            lines.append("note: \(c.source.device) does not exist now; the daemon waits for it and reopens it when it appears")
        }
        var results: [String] = []
        if !c.results.socket.isEmpty { results.append("socket \(c.results.socket)") }
        if !c.results.httpListen.isEmpty { results.append("http \(c.results.httpListen)") }
        lines.append("results: " + (results.isEmpty ? "none (neither socket nor http_listen)" : results.joined(separator: ", ")) + ", top \(c.results.topK)")
        return lines
    }
}
