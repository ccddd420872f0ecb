import EdgeGraph
import EdgeModelFile

/// libFuzzer entry point: any byte string given to the model file reader must end in a loaded model or a
/// ModelFileError, never a crash, a hang or unbounded memory. It reads through `ModelFile.read(bytes:)`, the
/// same validation code as the mmap reader.
///
/// Checksums: almost every mutation of a valid file breaks a CRC32, so on raw inputs the fuzzer would mostly
/// exercise the checksum checks. So in half of the runs (those whose input has an odd FNV-1a hash: a function
/// of the input alone, so a crash reproduces from its saved input) the target first recomputes every CRC of
/// the input (`ModelFile.recomputeChecksums`, itself robust to any bytes) and reads the patched copy, which
/// gets the mutation past the checksums into the section table, JSON, graph, weight and packed-blob checks.
/// The other half reads the input as it is, exercising the header, truncation and checksum paths.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzModelFileReader(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    var bytes = Array(UnsafeBufferPointer(start: data, count: size))
    var hash: UInt32 = 2_166_136_261
    for b in bytes { hash = (hash ^ UInt32(b)) &* 16_777_619 }
    if hash & 1 == 1 { ModelFile.recomputeChecksums(&bytes) }
    guard let loaded = try? ModelFile.read(bytes: bytes) else { return 0 }
    // A model that reads must be usable: shapes inferable at its preprocessing size, packed views in bounds.
    let spec = loaded.metadata.preprocessing
    _ = try? loaded.graph.inferShapes(inputShapes: [Shape([1, spec.channels, spec.inputHeight, spec.inputWidth])])
    var sum = 0
    for view in loaded.packed.values {
        sum &+= Int(view.bytes.first ?? 0) &+ Int(view.bytes.last ?? 0)
        _ = try? view.kind.unpack(view.bytes)
    }
    return sum == -1 ? 1 : 0
}
