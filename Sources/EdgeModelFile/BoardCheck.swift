/// Whether a model file made for one board may run on this one. Packed weights are laid out for one
/// board's kernels (and its calibration and timing assumptions), so running a file made for another board
/// is refused with a message saying how to get a matching file.
public enum ModelFileBoardCheck {
    /// The board id of files that run anywhere (FP32 files, or INT8 packed for the portable scalar kernels).
    public static let generic = "generic"

    /// Throws unless `fileBoard` is `generic` or equals `runningBoard` (a board profile id such as "rpi4";
    /// nil when this machine matches no profile).
    public static func check(fileBoard: String, runningBoard: String?, kernelLayout: String = "") throws {
        if fileBoard == generic || fileBoard == runningBoard { return }
        let made = kernelLayout.isEmpty ? fileBoard : "\(fileBoard) (\(kernelLayout) kernels)"
        let here = runningBoard.map { "this machine is \($0)" } ?? "this machine matches no known board"
        throw ModelFileError("the model file was made for \(made), \(here); package the model again for this board (or with --board generic)")
    }
}
