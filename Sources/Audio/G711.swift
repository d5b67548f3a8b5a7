/// ITU-T G.711 companding: the µ-law and A-law codes a telephone call carries, one byte per
/// sample at 8 kHz. The segment arithmetic is the reference one (as in the ITU/Sun `g711.c`),
/// so a code produced here sounds the same on every phone.
public enum G711 {
    private static let ulawBias: Int32 = 0x84
    private static let ulawClip: Int32 = 32635

    /// The µ-law code of a 16-bit linear sample.
    public static func ulaw(_ sample: Int16) -> UInt8 {
        var magnitude = Int32(sample)
        let sign: Int32 = magnitude < 0 ? 0x80 : 0
        if magnitude < 0 { magnitude = -magnitude }
        magnitude = min(magnitude, ulawClip) + ulawBias
        // The segment is the position of the highest set bit above bit 7 (0…7).
        var exponent: Int32 = 7
        while exponent > 0, magnitude & (0x80 << exponent) == 0 { exponent -= 1 }
        let mantissa = (magnitude >> (exponent + 3)) & 0x0F
        return ~UInt8(truncatingIfNeeded: sign | (exponent << 4) | mantissa)
    }

    /// The 16-bit linear value a µ-law code stands for.
    public static func linear(ulaw code: UInt8) -> Int16 {
        let inverted = Int32(~code)
        var magnitude = ((inverted & 0x0F) << 3) + ulawBias
        magnitude <<= (inverted & 0x70) >> 4
        return Int16(inverted & 0x80 != 0 ? ulawBias - magnitude : magnitude - ulawBias)
    }

    /// The A-law code of a 16-bit linear sample (A-law works on the top 13 bits).
    public static func alaw(_ sample: Int16) -> UInt8 {
        var value = Int32(sample) >> 3
        let mask: Int32
        if value >= 0 {
            mask = 0xD5
        } else {
            mask = 0x55
            value = -value - 1
        }
        var segment: Int32 = 0
        while segment < 8, value >= (0x20 << segment) { segment += 1 }
        guard segment < 8 else { return UInt8(0x7F ^ mask) }
        let mantissa = segment < 2 ? (value >> 1) & 0x0F : (value >> segment) & 0x0F
        return UInt8(truncatingIfNeeded: ((segment << 4) | mantissa) ^ mask)
    }

    /// The 16-bit linear value an A-law code stands for.
    public static func linear(alaw code: UInt8) -> Int16 {
        let value = Int32(code ^ 0x55)
        var magnitude = (value & 0x0F) << 4
        let segment = (value & 0x70) >> 4
        switch segment {
        case 0: magnitude += 8
        case 1: magnitude += 0x108
        default: magnitude = (magnitude + 0x108) << (segment - 1)
        }
        return Int16(value & 0x80 != 0 ? magnitude : -magnitude)
    }
}
