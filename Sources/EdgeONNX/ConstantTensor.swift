#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import ONNXProtobuf

/// A tensor whose value is known at import time: an initializer, a Constant node's output, or a
/// value folded from them. Stored as Float or Int64 (shape operands), converted from ONNX's types.
struct ConstantTensor {
    enum ElementType { case float, integer, int8, uint8 }

    var dims: [Int]
    var floats: [Float]
    var ints: [Int64]
    /// The ONNX element type class, for quantized tensors.
    var elementType: ElementType = .float
    /// For a tensor made by DequantizeLinear of a constant: the integers and the scales it came from.
    var quantizedOrigin: QuantizedOrigin?

    var elementCount: Int { dims.reduce(1, *) }

    init(dims: [Int], floats: [Float]) {
        self.dims = dims
        self.floats = floats
        // A float used where integers are expected (a shape) must not trap on NaN or huge values:
        // those become Int64.min, which every consumer rejects as an invalid dimension.
        self.ints = floats.map { $0.isFinite && abs($0) < 9.0e18 ? Int64($0) : Int64.min }
    }

    init(dims: [Int], ints: [Int64]) {
        self.dims = dims
        self.ints = ints
        self.floats = ints.map { Float($0) }
        self.elementType = .integer
    }

    /// Decodes an ONNX TensorProto from `raw_data` (little-endian) or the typed repeated fields.
    init(_ proto: Onnx_TensorProto, context: String) throws {
        let name = proto.name.isEmpty ? context : "'\(proto.name)'"
        if proto.dataLocation == .external || !proto.externalData.isEmpty {
            let file = proto.externalData.first(where: { $0.key == "location" })?.value ?? "?"
            throw ONNXImportError("tensor \(name) is stored as external data (file '\(file)'); resnet-edge needs a self-contained model: re-save it with onnx.save_model(model, path, save_as_external_data=False)")
        }
        let dims = proto.dims.map { Int($0) }
        guard dims.allSatisfy({ $0 >= 0 }) else { throw ONNXImportError("tensor \(name) has a negative dimension \(proto.dims)") }
        guard let count = checkedProduct(dims), count <= Int(Int32.max) else {
            throw ONNXImportError("tensor \(name) has an implausible shape \(proto.dims)")
        }
        let raw = proto.hasRawData ? proto.rawData : nil

        func fromRaw<T>(_ type: T.Type, _ convert: (T) -> Float) throws -> [Float]? {
            guard let raw else { return nil }
            let size = MemoryLayout<T>.size
            guard raw.count == count * size else {
                throw ONNXImportError("tensor \(name) has \(raw.count) bytes of raw data, its shape \(dims) needs \(count * size)")
            }
            return raw.withUnsafeBytes { bytes in
                (0..<count).map { convert(bytes.loadUnaligned(fromByteOffset: $0 * size, as: T.self)) }
            }
        }
        func checked<C: Collection>(_ values: C) throws -> C {
            guard values.count == count else {
                throw ONNXImportError("tensor \(name) has \(values.count) values, its shape \(dims) needs \(count)")
            }
            return values
        }

        switch Int(proto.dataType) {
        case Onnx_TensorProto.DataType.float.rawValue:
            let values = try fromRaw(UInt32.self) { Float(bitPattern: UInt32(littleEndian: $0)) } ?? checked(proto.floatData)
            self.init(dims: dims, floats: values)
        case Onnx_TensorProto.DataType.double.rawValue:
            let values = try fromRaw(UInt64.self) { Float(Double(bitPattern: UInt64(littleEndian: $0))) }
                ?? checked(proto.doubleData).map { Float($0) }
            self.init(dims: dims, floats: values)
        case Onnx_TensorProto.DataType.float16.rawValue:
            let values = try fromRaw(UInt16.self) { halfToFloat(UInt16(littleEndian: $0)) }
                ?? checked(proto.int32Data).map { halfToFloat(UInt16(truncatingIfNeeded: $0)) }
            self.init(dims: dims, floats: values)
        case Onnx_TensorProto.DataType.int64.rawValue:
            if let raw {
                guard raw.count == count * 8 else {
                    throw ONNXImportError("tensor \(name) has \(raw.count) bytes of raw data, its shape \(dims) needs \(count * 8)")
                }
                let values = raw.withUnsafeBytes { b in (0..<count).map { Int64(littleEndian: b.loadUnaligned(fromByteOffset: $0 * 8, as: Int64.self)) } }
                self.init(dims: dims, ints: values)
            } else {
                self.init(dims: dims, ints: try checked(proto.int64Data))
            }
        case Onnx_TensorProto.DataType.int8.rawValue, Onnx_TensorProto.DataType.uint8.rawValue:
            let signed = Int(proto.dataType) == Onnx_TensorProto.DataType.int8.rawValue
            var values: [Int64]
            if let raw {
                guard raw.count == count else {
                    throw ONNXImportError("tensor \(name) has \(raw.count) bytes of raw data, its shape \(dims) needs \(count)")
                }
                values = raw.map { signed ? Int64(Int8(bitPattern: $0)) : Int64($0) }
            } else {
                // ONNX stores 8-bit elements widened in int32_data.
                values = try checked(proto.int32Data).map { Int64($0) }
            }
            self.init(dims: dims, ints: values)
            elementType = signed ? .int8 : .uint8
        case Onnx_TensorProto.DataType.int32.rawValue:
            if let raw {
                guard raw.count == count * 4 else {
                    throw ONNXImportError("tensor \(name) has \(raw.count) bytes of raw data, its shape \(dims) needs \(count * 4)")
                }
                let values = raw.withUnsafeBytes { b in (0..<count).map { Int64(Int32(littleEndian: b.loadUnaligned(fromByteOffset: $0 * 4, as: Int32.self))) } }
                self.init(dims: dims, ints: values)
            } else {
                self.init(dims: dims, ints: try checked(proto.int32Data).map { Int64($0) })
            }
        default:
            let type = Onnx_TensorProto.DataType(rawValue: Int(proto.dataType)).map { "\($0)" } ?? "#\(proto.dataType)"
            throw ONNXImportError("tensor \(name) has element type \(type); supported: float, double, float16, int64, int32, int8, uint8")
        }
    }
}

/// Where a dequantized constant came from: q (int8, uint8 or int32 values), per-tensor or per-axis
/// scales and zero points.
struct QuantizedOrigin {
    var values: [Int64]
    var scales: [Float]
    var zeroPoints: [Int64]
    /// The axis the scales run along, when there is more than one.
    var axis: Int
    var elementType: ConstantTensor.ElementType
}

/// IEEE 754 binary16 to binary32, exact (every half is representable as a float).
func halfToFloat(_ h: UInt16) -> Float {
    let sign = UInt32(h >> 15) << 31
    let exponent = Int((h >> 10) & 0x1f)
    let mantissa = UInt32(h & 0x3ff)
    if exponent == 0x1f { return Float(bitPattern: sign | 0x7f80_0000 | (mantissa << 13)) }
    if exponent == 0 {
        let magnitude = Float(mantissa) * 0x1p-24   // subnormal or zero
        return sign == 0 ? magnitude : -magnitude
    }
    return Float(bitPattern: sign | UInt32(exponent - 15 + 127) << 23 | (mantissa << 13))
}

/// The product of `values`, or nil if it overflows.
func checkedProduct(_ values: [Int]) -> Int? {
    var product = 1
    for v in values {
        let (p, overflow) = product.multipliedReportingOverflow(by: v)
        if overflow { return nil }
        product = p
    }
    return product
}
