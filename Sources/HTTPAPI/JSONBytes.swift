import Domain

/// A small JSON writer straight into bytes. The API's records are flat and known, and a ratings
/// list may hold a million of them: writing bytes directly keeps encoding cheap and the memory
/// per streamed page fixed, which a generic encoder would not.
struct JSONBytes: Sendable {
    private(set) var bytes: [UInt8] = []
    private var needsComma = false

    init(capacity: Int = 256) { bytes.reserveCapacity(capacity) }

    mutating func beginObject() {
        separate()
        bytes.append(UInt8(ascii: "{"))
        needsComma = false
    }

    mutating func endObject() {
        bytes.append(UInt8(ascii: "}"))
        needsComma = true
    }

    mutating func beginArray(_ key: StaticString? = nil) {
        if let key { writeKey(key) } else { separate() }
        bytes.append(UInt8(ascii: "["))
        needsComma = false
    }

    mutating func endArray() {
        bytes.append(UInt8(ascii: "]"))
        needsComma = true
    }

    mutating func field(_ key: StaticString, _ value: String?) {
        writeKey(key)
        if let value { writeString(value) } else { writeNull() }
        needsComma = true
    }

    mutating func field(_ key: StaticString, _ value: Int64?) {
        writeKey(key)
        if let value { bytes.appendDecimal(value) } else { writeNull() }
        needsComma = true
    }

    mutating func field(_ key: StaticString, _ value: Bool) {
        writeKey(key)
        bytes.append(contentsOf: value ? Array("true".utf8) : Array("false".utf8))
        needsComma = true
    }

    mutating func field(_ key: StaticString, _ value: LocalDateTime?) {
        writeKey(key)
        if let value {
            bytes.append(UInt8(ascii: "\""))
            value.appendUTF8(to: &bytes)
            bytes.append(UInt8(ascii: "\""))
        } else {
            writeNull()
        }
        needsComma = true
    }

    /// A finite number, in Swift's shortest form that reads back the same (`80.0`, `66.66666666666667`), or null.
    mutating func field(_ key: StaticString, _ value: Double?) {
        writeKey(key)
        if let value { bytes.appendDecimal(value) } else { writeNull() }
        needsComma = true
    }

    mutating func field(_ key: StaticString, strings values: [String]) {
        beginArray(key)
        for (index, value) in values.enumerated() {
            if index > 0 { bytes.append(UInt8(ascii: ",")) }
            writeString(value)
        }
        endArray()
    }

    /// An object of counts keyed by integers (`{"1": 3, "5": 10}`), in ascending key order.
    mutating func field(_ key: StaticString, counts: [Int64: Int64]) {
        writeKey(key)
        bytes.append(UInt8(ascii: "{"))
        for (index, (name, count)) in counts.sorted(by: { $0.key < $1.key }).enumerated() {
            if index > 0 { bytes.append(UInt8(ascii: ",")) }
            bytes.append(UInt8(ascii: "\""))
            bytes.appendDecimal(name)
            bytes.append(contentsOf: [UInt8(ascii: "\""), UInt8(ascii: ":")])
            bytes.appendDecimal(count)
        }
        bytes.append(UInt8(ascii: "}"))
        needsComma = true
    }

    /// Empties the buffer after its bytes were sent, keeping the position inside an open array
    /// so the next element is preceded by a comma.
    mutating func clearContinuingArray() {
        bytes.removeAll(keepingCapacity: true)
        needsComma = true
    }

    private mutating func separate() {
        if needsComma { bytes.append(UInt8(ascii: ",")) }
    }

    /// Keys are literals of plain ASCII, so they are copied without escaping.
    private mutating func writeKey(_ key: StaticString) {
        separate()
        bytes.append(UInt8(ascii: "\""))
        key.withUTF8Buffer { bytes.append(contentsOf: $0) }
        bytes.append(contentsOf: [UInt8(ascii: "\""), UInt8(ascii: ":")])
    }

    private mutating func writeNull() {
        bytes.append(contentsOf: [0x6E, 0x75, 0x6C, 0x6C])
    }

    private mutating func writeString(_ value: String) {
        bytes.append(UInt8(ascii: "\""))
        for byte in value.utf8 {
            switch byte {
            case UInt8(ascii: "\""): bytes.append(contentsOf: [0x5C, 0x22])
            case UInt8(ascii: "\\"): bytes.append(contentsOf: [0x5C, 0x5C])
            case 0x0A: bytes.append(contentsOf: [0x5C, 0x6E])
            case 0x0D: bytes.append(contentsOf: [0x5C, 0x72])
            case 0x09: bytes.append(contentsOf: [0x5C, 0x74])
            case 0..<0x20, 0x7F:
                let hex = Array("0123456789abcdef".utf8)
                bytes.append(contentsOf: [0x5C, 0x75, 0x30, 0x30, hex[Int(byte >> 4)], hex[Int(byte & 0xF)]])
            default: bytes.append(byte)
            }
        }
        bytes.append(UInt8(ascii: "\""))
    }
}

extension [UInt8] {
    /// An integer in decimal ASCII, without going through a `String`: lists write millions.
    mutating func appendDecimal(_ value: Int64) {
        if value < 0 { append(UInt8(ascii: "-")) }
        var magnitude = value.magnitude
        var digits: (UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8,
                     UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8) =
            (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
        var count = 0
        Swift.withUnsafeMutableBytes(of: &digits) { buffer in
            repeat {
                buffer[count] = 0x30 + UInt8(magnitude % 10)
                magnitude /= 10
                count += 1
            } while magnitude > 0
            for index in stride(from: count - 1, through: 0, by: -1) { append(buffer[index]) }
        }
    }

    /// A finite number in Swift's shortest form that reads back the same (`80.0`, `66.66666666666667`).
    mutating func appendDecimal(_ value: Double) {
        append(contentsOf: value.description.utf8)
    }
}
