/// Why an uploaded file cannot be used. `notWAV` is a file that is not a RIFF/WAVE file at all;
/// `unaccepted` is a WAV file that is damaged or in an encoding the server does not play.
/// Both descriptions say what was found and what is accepted.
public enum SoundFileError: Error, Equatable, CustomStringConvertible {
    case notWAV(String)
    case unaccepted(String)

    public var description: String {
        switch self {
        case .notWAV(let reason), .unaccepted(let reason): reason
        }
    }
}

/// How the samples of a WAV file are encoded, as far as the server cares.
enum WAVEncoding: Sendable, Equatable {
    case pcm(bitsPerSample: Int)
    case ulaw
    case alaw
}

/// The `fmt ` and `data` chunks of a WAV file, checked against what the server accepts.
struct WAVFile {
    var encoding: WAVEncoding
    var sampleRate: Int
    /// The bytes of the `data` chunk.
    var samples: ArraySlice<UInt8>

    static let accepted =
        "WAV (RIFF/WAVE) in mono: PCM 8- or 16-bit at 8000 or 16000 Hz, or G.711 µ-law or A-law at 8000 Hz"

    static let formatPCM = 1, formatFloat = 3, formatALaw = 6, formatULaw = 7, formatExtensible = 0xFFFE

    init(parsing bytes: [UInt8]) throws(SoundFileError) {
        guard bytes.count >= 12, Self.tag(bytes, 0) == "RIFF", Self.tag(bytes, 8) == "WAVE" else {
            throw .notWAV("\(Self.guessKind(bytes)); accepted: \(Self.accepted)")
        }
        var format: (code: Int, channels: Int, rate: Int, bits: Int, blockAlign: Int)?
        var data: ArraySlice<UInt8>?
        var offset = 12
        while offset + 8 <= bytes.count, data == nil || format == nil {
            let id = Self.tag(bytes, offset)
            let size = Int(Self.uint32(bytes, offset + 4))
            let body = offset + 8
            guard size <= bytes.count - body else {
                throw .unaccepted(
                    "the WAV file is truncated: its '\(Self.printable(id))' chunk declares \(size) bytes but only "
                        + "\(bytes.count - body) follow; upload the whole file")
            }
            switch id {
            case "fmt ":
                guard size >= 16 else {
                    throw .unaccepted("the WAV file's 'fmt ' chunk is \(size) bytes, shorter than the 16 every WAV format needs")
                }
                var code = Int(Self.uint16(bytes, body))
                if code == Self.formatExtensible {
                    guard size >= 40 else {
                        throw .unaccepted("the WAV file's extensible 'fmt ' chunk is \(size) bytes, shorter than 40")
                    }
                    // WAVE_FORMAT_EXTENSIBLE: the real format code opens the sub-format GUID.
                    code = Int(Self.uint16(bytes, body + 24))
                }
                format = (
                    code, Int(Self.uint16(bytes, body + 2)), Int(Self.uint32(bytes, body + 4)),
                    Int(Self.uint16(bytes, body + 14)), Int(Self.uint16(bytes, body + 12))
                )
            case "data":
                data = bytes[body..<(body + size)]
            default:
                break
            }
            // Chunks are padded to an even length; a missing pad byte at the very end is tolerated.
            offset = body + size + (size & 1)
        }
        guard let format else {
            throw .unaccepted("the WAV file has no 'fmt ' chunk, so its sample format is unknown; accepted: \(Self.accepted)")
        }
        let found = Self.describe(code: format.code, channels: format.channels, rate: format.rate, bits: format.bits)
        func refuse(_ reason: String) -> SoundFileError {
            .unaccepted("the WAV file is \(found): \(reason); accepted: \(Self.accepted)")
        }
        let encoding: WAVEncoding
        switch format.code {
        case Self.formatPCM where format.bits == 8 || format.bits == 16: encoding = .pcm(bitsPerSample: format.bits)
        case Self.formatPCM: throw refuse("\(format.bits)-bit samples are not accepted")
        case Self.formatULaw where format.bits == 8: encoding = .ulaw
        case Self.formatALaw where format.bits == 8: encoding = .alaw
        case Self.formatULaw, Self.formatALaw: throw refuse("G.711 needs 8 bits per sample")
        default: throw refuse("this encoding is not accepted")
        }
        guard format.channels == 1 else { throw refuse("only mono (1 channel) is accepted") }
        switch encoding {
        case .pcm: guard format.rate == 8000 || format.rate == 16000 else { throw refuse("PCM must be at 8000 or 16000 Hz") }
        case .ulaw, .alaw: guard format.rate == 8000 else { throw refuse("G.711 must be at 8000 Hz") }
        }
        let frameSize = format.bits / 8
        guard format.blockAlign == frameSize else {
            throw refuse("its block size is \(format.blockAlign) bytes where one mono sample takes \(frameSize)")
        }
        guard let data else { throw .unaccepted("the WAV file has no 'data' chunk: it holds no audio") }
        guard !data.isEmpty else { throw .unaccepted("the WAV file's 'data' chunk is empty: it holds no audio") }
        guard data.count % frameSize == 0 else {
            throw .unaccepted("the WAV file is truncated: its 'data' chunk ends in the middle of a sample")
        }
        self.encoding = encoding
        sampleRate = format.rate
        samples = data
    }

    /// What the format is, in words a person recognises: "PCM 16-bit, 44100 Hz, 2 channels".
    static func describe(code: Int, channels: Int, rate: Int, bits: Int) -> String {
        let name: String
        switch code {
        case formatPCM: name = "PCM \(bits)-bit"
        case formatFloat: name = "\(bits)-bit floating point"
        case formatULaw: name = "µ-law \(bits)-bit"
        case formatALaw: name = "A-law \(bits)-bit"
        case 0x0002: name = "Microsoft ADPCM"
        case 0x0011: name = "IMA ADPCM"
        case 0x0031: name = "GSM 6.10"
        case 0x0050, 0x0055: name = "MPEG audio (MP3)"
        default: name = "format code \(code)"
        }
        return "\(name), \(rate) Hz, \(channels == 1 ? "mono" : "\(channels) channels")"
    }

    /// What a file that is not RIFF/WAVE seems to be, so the refusal can say so.
    private static func guessKind(_ bytes: [UInt8]) -> String {
        if bytes.isEmpty { return "the file is empty" }
        let isMPEGFrame = bytes.count >= 2 && bytes[0] == 0xFF && bytes[1] & 0xE0 == 0xE0
        if bytes.starts(with: "ID3".utf8) || isMPEGFrame {
            return "the file looks like MP3, which is not accepted; convert it to WAV"
        }
        if tag(bytes, 0) == "OggS" { return "the file looks like Ogg, which is not accepted; convert it to WAV" }
        if tag(bytes, 0) == "fLaC" { return "the file looks like FLAC, which is not accepted; convert it to WAV" }
        if tag(bytes, 0) == "RIFF" { return "the file is a RIFF file but not WAVE" }
        return "the file is not a WAV file (it does not start with RIFF….WAVE)"
    }

    /// Four bytes at `offset` as text; "" past the end.
    private static func tag(_ bytes: [UInt8], _ offset: Int) -> String {
        guard offset + 4 <= bytes.count else { return "" }
        return String(decoding: bytes[offset..<(offset + 4)], as: Unicode.ASCII.self)
    }

    private static func printable(_ tag: String) -> String {
        String(String.UnicodeScalarView(tag.unicodeScalars.map { (0x20..<0x7F).contains($0.value) ? $0 : "?" }))
    }

    private static func uint16(_ bytes: [UInt8], _ offset: Int) -> UInt16 {
        UInt16(bytes[offset]) | UInt16(bytes[offset + 1]) << 8
    }

    private static func uint32(_ bytes: [UInt8], _ offset: Int) -> UInt32 {
        UInt32(bytes[offset]) | UInt32(bytes[offset + 1]) << 8 | UInt32(bytes[offset + 2]) << 16 | UInt32(bytes[offset + 3]) << 24
    }

    /// A WAV file of 8 kHz mono G.711 µ-law: what a stored sound is downloaded as. Non-PCM WAV
    /// files carry a `fact` chunk with the sample count (RIFF specification).
    static func ulawFile(_ codes: [UInt8]) -> [UInt8] {
        var file: [UInt8] = []
        file.reserveCapacity(codes.count + 58)
        func append(_ text: String) { file.append(contentsOf: text.utf8) }
        func append32(_ value: Int) { for shift in stride(from: 0, to: 32, by: 8) { file.append(UInt8(truncatingIfNeeded: value >> shift)) } }
        func append16(_ value: Int) { file.append(UInt8(truncatingIfNeeded: value)); file.append(UInt8(truncatingIfNeeded: value >> 8)) }
        let padding = codes.count & 1
        append("RIFF")
        append32(4 + (8 + 18) + (8 + 4) + 8 + codes.count + padding)
        append("WAVE")
        append("fmt ")
        append32(18)
        append16(formatULaw)
        append16(1)
        append32(8000)
        append32(8000)
        append16(1)
        append16(8)
        append16(0)
        append("fact")
        append32(4)
        append32(codes.count)
        append("data")
        append32(codes.count)
        file.append(contentsOf: codes)
        if padding == 1 { file.append(0) }
        return file
    }
}
