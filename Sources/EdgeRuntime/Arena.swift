/// One 64-byte-aligned block of memory that holds all activations of a plan.
final class Arena {
    let bytes: Int
    let base: UnsafeMutableRawPointer

    init(bytes: Int) {
        self.bytes = bytes
        base = UnsafeMutableRawPointer.allocate(byteCount: bytes, alignment: MemoryPlan.alignment)
        base.initializeMemory(as: UInt8.self, repeating: 0, count: bytes)
    }

    deinit { base.deallocate() }

    func floats(at offset: Int) -> UnsafeMutablePointer<Float> {
        (base + offset).assumingMemoryBound(to: Float.self)
    }

    func int8(at offset: Int) -> UnsafeMutablePointer<Int8> {
        (base + offset).assumingMemoryBound(to: Int8.self)
    }
}
