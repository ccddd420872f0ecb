/// Whether a model file made for one board may run on this one. Packed weights are laid out for one
/// board's kernels (and its calibration and timing assumptions), so running a file made for another board
/// is refused with the command that makes a matching file.
public enum ModelFileBoardCheck {
    /// The board id of files that run anywhere (FP32 files, or INT8 packed for the portable scalar kernels).
    public static let generic = "generic"

    /// Throws unless `fileBoard` is `generic` or equals `runningBoard` (a board profile id such as "rpi4";
    /// nil when this machine matches no profile). `remake` is the command that makes the right file
    /// (`ModelMetadata.calibrateCommand`), quoted in the error and only made when the check fails.
    public static func check(fileBoard: String, runningBoard: String?, kernelLayout: String = "",
                             remake: @autoclosure () -> String? = nil) throws {
        if fileBoard == generic || fileBoard == runningBoard { return }
        let made = kernelLayout.isEmpty ? fileBoard : "\(fileBoard) (\(kernelLayout) kernels)"
        let here = runningBoard.map { "this machine is \($0)" } ?? "this machine matches no known board"
        let fix = remake().map { "make one for it with: \($0)" } ?? "calibrate the model again with --board \(runningBoard ?? "auto") (or --board generic)"
        throw ModelFileError("the model file was made for \(made), \(here); \(fix)")
    }
}

extension ModelMetadata {
    /// The `resnet-edge calibrate` command that makes this file again for `board`: the source model and calibration
    /// data it was made from, and every setting that differs from calibrate's defaults. `modelPath` (this file's
    /// path) names the output beside it: `r18-rpi4.rem` becomes `r18-rpi5.rem`, anything else gets `-<board>`.
    public func calibrateCommand(forBoard board: String, modelPath: String) -> String {
        let s = provenance.settings
        func quoted(_ word: String) -> String {
            word.allSatisfy { $0.isLetter || $0.isNumber || "-_./=:+,@".contains($0) } && !word.isEmpty
                ? word : "'" + word.split(separator: "'", omittingEmptySubsequences: false).joined(separator: "'\\''") + "'"
        }
        var words = ["resnet-edge", "calibrate", "--model", provenance.sourceModelName.isEmpty ? "MODEL.onnx" : provenance.sourceModelName]
        if let source = s["source"], !source.isEmpty {
            words += [s["source_kind"] == "dataset" ? "--dataset" : "--images", source]
        } else {
            words += ["--images", "DIR"]
        }
        if s["source_kind"] == "dataset", let split = s["split"], split != "train" { words += ["--split", split] }
        words += ["--board", board]
        if let observer = s["observer"], observer != "mse" { words += ["--observer", observer] }
        if s["observer"] == "percentile", let p = s["percentile"] { words += ["--percentile", p] }
        if let budget = s["budget"], budget != "none" { words += ["--budget", budget] }
        if s["equalization"] == "true" { words.append("--equalize") }
        if s["bias_correction"] == "false" { words.append("--no-bias-correction") }
        if s["per_channel_weights"] == "false" { words.append("--per-tensor-weights") }
        if let limit = s["limit"], limit != "1000" { words += ["--limit", limit] }
        if let n = s["evaluation_images"], n != "200" { words += ["--evaluation-images", n] }
        let file = modelPath.split(separator: "/").last.map(String.init) ?? modelPath
        var stem = file.hasSuffix(".rem") ? String(file.dropLast(4)) : file
        if stem.hasSuffix("-" + self.board) { stem = String(stem.dropLast(self.board.count + 1)) }
        let directory = modelPath.contains("/") ? String(modelPath[..<modelPath.lastIndex(of: "/")!]) + "/" : ""
        words += ["--out", directory + stem + "-" + board + ".rem"]
        return words.map(quoted).joined(separator: " ")
    }
}
