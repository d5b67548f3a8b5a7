/// A call's identity: 32 upper-case hexadecimal digits, no dashes (SPEC §1).
public struct CallUUID: Sendable, Hashable, CustomStringConvertible {
    public let value: String

    /// Accepts only the canonical form, so that a call is never stored under two spellings.
    /// Inlinable so that each caller gets it specialised for its string type: the stores check
    /// every row of a list, and the generic check cost 1.4 µs a row (docs/BENCHMARKS.md).
    @inlinable
    public init?(_ text: some StringProtocol) {
        guard text.utf8.count == 32, text.utf8.allSatisfy({ ($0 >= 0x30 && $0 <= 0x39) || ($0 >= 0x41 && $0 <= 0x46) }) else {
            return nil
        }
        self.value = String(text)
    }

    public static func random() -> CallUUID {
        var generator = SystemRandomNumberGenerator()
        return random(using: &generator)
    }

    public static func random(using generator: inout some RandomNumberGenerator) -> CallUUID {
        let digits = Array("0123456789ABCDEF".utf8)
        var bytes = [UInt8]()
        bytes.reserveCapacity(32)
        for _ in 0..<2 {
            var word = generator.next()
            for _ in 0..<16 {
                bytes.append(digits[Int(word & 0xF)])
                word >>= 4
            }
        }
        return CallUUID(String(decoding: bytes, as: UTF8.self))!
    }

    public var description: String { value }
}
