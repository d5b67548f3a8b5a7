/// A sound ready for a call: 8 kHz mono in both G.711 laws, so that playback never converts.
public struct ConvertedSound: Sendable, Equatable {
    /// What the upload was, e.g. "PCM 16-bit, 16000 Hz, mono".
    public var sourceFormat: String
    public var ulaw: [UInt8]
    public var alaw: [UInt8]

    /// One byte per sample at 8000 samples per second.
    public var durationMilliseconds: Int64 { Int64(ulaw.count) / 8 }
}

/// Checks an uploaded WAV file and converts it, once, to what calls play.
public enum SoundConverter {
    /// What an upload may be, for error messages and documentation.
    public static let acceptedFormats = WAVFile.accepted
    /// Longer sounds are refused: a prompt or an announcement is seconds long, and a call holds
    /// its sound in memory while it plays.
    public static let maximumDurationSeconds = 600

    public static func convert(wav bytes: [UInt8]) throws(SoundFileError) -> ConvertedSound {
        let file = try WAVFile(parsing: bytes)
        let sampleCount = file.samples.count / (file.encoding == .pcm(bitsPerSample: 16) ? 2 : 1)
        guard sampleCount <= maximumDurationSeconds * file.sampleRate else {
            let seconds = sampleCount / file.sampleRate
            throw .unaccepted(
                "the sound lasts \(seconds / 60) min \(seconds % 60) s; at most \(maximumDurationSeconds / 60) minutes are accepted")
        }
        let sourceFormat = WAVFile.describe(
            code: file.encoding.formatCode, channels: 1, rate: file.sampleRate, bits: file.encoding.bitsPerSample)
        switch file.encoding {
        case .ulaw:
            let ulaw = Array(file.samples)
            return ConvertedSound(sourceFormat: sourceFormat, ulaw: ulaw, alaw: ulaw.map { G711.alaw(G711.linear(ulaw: $0)) })
        case .alaw:
            let alaw = Array(file.samples)
            return ConvertedSound(sourceFormat: sourceFormat, ulaw: alaw.map { G711.ulaw(G711.linear(alaw: $0)) }, alaw: alaw)
        case .pcm(let bits):
            var linear = linearSamples(file.samples, bits: bits)
            if file.sampleRate == 16000 { linear = HalfRateDecimator.decimate(linear) }
            return ConvertedSound(sourceFormat: sourceFormat, ulaw: linear.map(G711.ulaw), alaw: linear.map(G711.alaw))
        }
    }

    /// A stored µ-law sound as a WAV file (8 kHz, mono), as it is downloaded.
    public static func wavFile(ulaw: [UInt8]) -> [UInt8] { WAVFile.ulawFile(ulaw) }

    /// Little-endian signed 16-bit, or unsigned 8-bit centred on 128, as 16-bit values.
    private static func linearSamples(_ bytes: ArraySlice<UInt8>, bits: Int) -> [Int16] {
        if bits == 8 { return bytes.map { Int16(Int($0) - 128) << 8 } }
        let start = bytes.startIndex
        return (0..<(bytes.count / 2)).map { index in
            Int16(bitPattern: UInt16(bytes[start + 2 * index]) | UInt16(bytes[start + 2 * index + 1]) << 8)
        }
    }
}

extension WAVEncoding {
    var formatCode: Int {
        switch self {
        case .pcm: WAVFile.formatPCM
        case .alaw: WAVFile.formatALaw
        case .ulaw: WAVFile.formatULaw
        }
    }

    var bitsPerSample: Int {
        switch self {
        case .pcm(let bits): bits
        case .ulaw, .alaw: 8
        }
    }
}
