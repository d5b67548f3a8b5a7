import Audio
import Foundation
import Testing

/// A WAV file as a test builds it: a `fmt ` chunk of the given fields, optional extra chunks, then `data`.
func wav(
    format: UInt16 = 1, channels: UInt16 = 1, rate: UInt32 = 8000, bits: UInt16 = 16, blockAlign: UInt16? = nil,
    data: [UInt8], declaredDataSize: UInt32? = nil, extraChunks: [(String, [UInt8])] = []
) -> [UInt8] {
    func le16(_ value: UInt16) -> [UInt8] { [UInt8(value & 0xFF), UInt8(value >> 8)] }
    func le32(_ value: UInt32) -> [UInt8] { (0..<4).map { UInt8((value >> (8 * $0)) & 0xFF) } }
    func chunk(_ id: String, _ body: [UInt8], size: UInt32? = nil) -> [UInt8] {
        Array(id.utf8) + le32(size ?? UInt32(body.count)) + body + (body.count % 2 == 1 && size == nil ? [0] : [])
    }
    let align = blockAlign ?? channels * max(1, bits / 8)
    let fmt = le16(format) + le16(channels) + le32(rate) + le32(rate * UInt32(align)) + le16(align) + le16(bits)
    var body = Array("WAVE".utf8) + chunk("fmt ", fmt)
    for (id, bytes) in extraChunks { body += chunk(id, bytes) }
    body += chunk("data", data, size: declaredDataSize)
    return Array("RIFF".utf8) + le32(UInt32(body.count)) + body
}

func pcm16(_ samples: [Int16]) -> [UInt8] {
    samples.flatMap { [UInt8(truncatingIfNeeded: $0), UInt8(truncatingIfNeeded: $0 >> 8)] }
}

func tone(hertz: Double, rate: Double, seconds: Double, amplitude: Double = 10000) -> [Int16] {
    (0..<Int(rate * seconds)).map { Int16(amplitude * sin(2 * Double.pi * hertz * Double($0) / rate)) }
}

func rms(_ samples: some Collection<Int16>) -> Double {
    (samples.reduce(0.0) { $0 + Double($1) * Double($1) } / Double(samples.count)).squareRoot()
}

@Suite struct G711Tests {
    @Test func encodesKnownValues() {
        #expect(G711.ulaw(0) == 0xFF)
        #expect(G711.alaw(0) == 0xD5)
        #expect(G711.ulaw(32767) == 0x80)
        #expect(G711.ulaw(-32768) == 0x00)
        #expect(G711.alaw(32767) == 0xAA)
        #expect(G711.alaw(-32768) == 0x2A)
        #expect(G711.ulaw(-1) == 0x7F)
        #expect(G711.linear(ulaw: 0x80) == 32124)
        #expect(G711.linear(ulaw: 0x00) == -32124)
        #expect(G711.linear(alaw: 0xAA) == 32256)
        #expect(G711.linear(alaw: 0xD5) == 8)
    }

    @Test func everyCodeSurvivesDecodingAndEncoding() {
        for code in UInt8.min...UInt8.max {
            #expect(G711.alaw(G711.linear(alaw: code)) == code, "A-law \(code)")
            // 0x7F is µ-law's negative zero: it decodes to 0, whose code is 0xFF.
            #expect(G711.ulaw(G711.linear(ulaw: code)) == (code == 0x7F ? 0xFF : code), "µ-law \(code)")
        }
    }

    @Test func encodingIsMonotonicAndCloseToTheInput() {
        for value in stride(from: -32768, through: 32767, by: 7) {
            let sample = Int16(value)
            let ulawError = abs(Int(G711.linear(ulaw: G711.ulaw(sample))) - value)
            let alawError = abs(Int(G711.linear(alaw: G711.alaw(sample))) - value)
            // Quantisation error grows with the segment: at most half a step, about 3 % of the value.
            #expect(ulawError <= max(8, abs(value) / 30 + 8), "µ-law \(value)")
            #expect(alawError <= max(16, abs(value) / 30 + 16), "A-law \(value)")
        }
    }
}

@Suite struct SoundConverterTests {
    @Test func acceptsPCM16At8kHz() throws {
        let samples = tone(hertz: 440, rate: 8000, seconds: 0.5)
        let sound = try SoundConverter.convert(wav: wav(data: pcm16(samples)))
        #expect(sound.sourceFormat == "PCM 16-bit, 8000 Hz, mono")
        #expect(sound.ulaw == samples.map(G711.ulaw))
        #expect(sound.alaw == samples.map(G711.alaw))
        #expect(sound.durationMilliseconds == 500)
    }

    @Test func acceptsPCM16At16kHzAndHalvesTheRate() throws {
        let sound = try SoundConverter.convert(wav: wav(rate: 16000, data: pcm16(tone(hertz: 440, rate: 16000, seconds: 1.25))))
        #expect(sound.sourceFormat == "PCM 16-bit, 16000 Hz, mono")
        #expect(sound.ulaw.count == 10_000)
        #expect(sound.durationMilliseconds == 1250)
    }

    @Test func acceptsPCM8() throws {
        let sound = try SoundConverter.convert(wav: wav(bits: 8, data: [128, 255, 0, 128]))
        #expect(sound.sourceFormat == "PCM 8-bit, 8000 Hz, mono")
        #expect(sound.ulaw == [0xFF, G711.ulaw(127 << 8), G711.ulaw(-32768), 0xFF])
    }

    @Test func acceptsULawAndALawAsTheyAre() throws {
        let codes: [UInt8] = [0xFF, 0x80, 0x00, 0x12, 0x7E]
        let ulaw = try SoundConverter.convert(wav: wav(format: 7, bits: 8, data: codes))
        #expect(ulaw.sourceFormat == "µ-law 8-bit, 8000 Hz, mono")
        #expect(ulaw.ulaw == codes)
        #expect(ulaw.alaw == codes.map { G711.alaw(G711.linear(ulaw: $0)) })
        let alaw = try SoundConverter.convert(wav: wav(format: 6, bits: 8, data: codes))
        #expect(alaw.sourceFormat == "A-law 8-bit, 8000 Hz, mono")
        #expect(alaw.alaw == codes)
        #expect(alaw.ulaw == codes.map { G711.ulaw(G711.linear(alaw: $0)) })
    }

    @Test func skipsUnknownChunksAndAcceptsTheExtensibleFormat() throws {
        let samples: [Int16] = [0, 1000, -1000, 0]
        let withList = wav(data: pcm16(samples), extraChunks: [("LIST", Array("INFOISFT odd".utf8) + [1])])
        #expect(try SoundConverter.convert(wav: withList).ulaw == samples.map(G711.ulaw))
        // WAVE_FORMAT_EXTENSIBLE: cbSize 22, valid bits, channel mask, then the PCM sub-format GUID.
        var extensible = wav(format: 0xFFFE, data: pcm16(samples))
        let fmtSizeOffset = 16
        extensible[fmtSizeOffset] = 40
        let extra: [UInt8] = [22, 0, 16, 0, 4, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0x10, 0, 0x80, 0, 0, 0xAA, 0, 0x38, 0x9B, 0x71]
        extensible.insert(contentsOf: extra, at: 12 + 8 + 16)
        let riffSize = UInt32(extensible.count - 8)
        for index in 0..<4 { extensible[4 + index] = UInt8((riffSize >> (8 * index)) & 0xFF) }
        #expect(try SoundConverter.convert(wav: extensible).ulaw == samples.map(G711.ulaw))
    }

    @Test(arguments: [
        (wav(channels: 2, data: pcm16([0, 0, 0, 0])), "2 channels"),
        (wav(rate: 44100, data: pcm16([0, 0])), "44100 Hz"),
        (wav(format: 3, bits: 32, data: [0, 0, 0, 0]), "32-bit floating point"),
        (wav(bits: 24, data: [0, 0, 0]), "24-bit"),
        (wav(format: 7, rate: 16000, bits: 8, data: [0xFF]), "µ-law 8-bit, 16000 Hz"),
        (wav(format: 0x55, bits: 0, blockAlign: 1, data: [0xFF]), "MP3"),
        (wav(format: 2, bits: 4, blockAlign: 256, data: [0xFF]), "ADPCM"),
        (wav(data: pcm16([1, 2]), declaredDataSize: 400), "truncated"),
        (wav(data: [1, 2, 3]), "middle of a sample"),
        (wav(data: []), "no audio"),
        (Array("RIFF".utf8) + [4, 0, 0, 0] + Array("WAVE".utf8), "no 'fmt ' chunk"),
    ] as [([UInt8], String)])
    func refusesWAVFilesItDoesNotPlay(file: [UInt8], mentioning: String) throws {
        #expect {
            try SoundConverter.convert(wav: file)
        } throws: { error in
            guard case .unaccepted(let reason) = error as? SoundFileError else { return false }
            return reason.contains(mentioning) && (reason.contains("accepted") || reason.contains("truncated") || reason.contains("no audio"))
        }
    }

    @Test(arguments: [
        ([UInt8](), "empty"),
        (Array("ID3\u{4}\0\0\0\0\0\0".utf8), "MP3"),
        ([0xFF, 0xFB, 0x90, 0x64, 0, 0, 0, 0, 0, 0, 0, 0], "MP3"),
        (Array("OggS\0\0\0\0\0\0\0\0".utf8), "Ogg"),
        (Array("hello, this is plain text".utf8), "not a WAV"),
        (Array("RIFF\u{4}\0\0\0AVI LIST".utf8), "not WAVE"),
    ] as [([UInt8], String)])
    func refusesFilesThatAreNotWAV(file: [UInt8], mentioning: String) {
        #expect {
            try SoundConverter.convert(wav: file)
        } throws: { error in
            guard case .notWAV(let reason) = error as? SoundFileError else { return false }
            return reason.contains(mentioning) && reason.contains(SoundConverter.acceptedFormats)
        }
    }

    @Test func refusesSoundsLongerThanTenMinutes() throws {
        let tenMinutes = [UInt8](repeating: 0xFF, count: 600 * 8000)
        #expect(try SoundConverter.convert(wav: wav(format: 7, bits: 8, data: tenMinutes)).durationMilliseconds == 600_000)
        #expect(throws: SoundFileError.unaccepted("the sound lasts 10 min 0 s; at most 10 minutes are accepted")) {
            try SoundConverter.convert(wav: wav(format: 7, bits: 8, data: tenMinutes + [0xFF, 0xFF]))
        }
    }

    @Test func keepsTheTelephoneBandAndRemovesWhatWouldFoldIntoIt() throws {
        let rate = 16000.0
        let low = try SoundConverter.convert(wav: wav(rate: 16000, data: pcm16(tone(hertz: 1000, rate: rate, seconds: 1))))
        let high = try SoundConverter.convert(wav: wav(rate: 16000, data: pcm16(tone(hertz: 7000, rate: rate, seconds: 1))))
        // Skip the filter's start-up and end; compare levels with the 10,000-peak input (RMS 7,071).
        let lowLevel = rms(low.ulaw.map { G711.linear(ulaw: $0) }[100..<7900])
        let highLevel = rms(high.ulaw.map { G711.linear(ulaw: $0) }[100..<7900])
        #expect(abs(lowLevel - 7071) < 7071 * 0.05, "1 kHz kept: \(lowLevel)")
        #expect(highLevel < 7071 / 300, "7 kHz at least 50 dB down: \(highLevel)")
        // The 1 kHz tone is still a 1 kHz tone at 8 kHz: eight samples per period.
        let decoded = low.ulaw.map { Double(G711.linear(ulaw: $0)) }
        let expected = tone(hertz: 1000, rate: 8000, seconds: 1).map(Double.init)
        let correlation = zip(decoded[100..<7900], expected[100..<7900]).reduce(0.0) { $0 + $1.0 * $1.1 }
        #expect(correlation / (7800 * 7071 * 7071) > 0.9)
    }

    @Test func aDownloadedSoundConvertsBackToItself() throws {
        let codes = (0..<801).map { UInt8(truncatingIfNeeded: $0 * 37) }
        let file = SoundConverter.wavFile(ulaw: codes)
        #expect(file.count % 2 == 0)
        #expect(try SoundConverter.convert(wav: file).ulaw == codes)
    }

    @Test func randomBytesNeverCrashTheParser() {
        var generator = SystemRandomNumberGenerator()
        let valid = wav(data: pcm16(tone(hertz: 440, rate: 8000, seconds: 0.01)), extraChunks: [("LIST", [1, 2, 3])])
        for round in 0..<3000 {
            var bytes: [UInt8]
            if round % 2 == 0 {
                bytes = (0..<Int.random(in: 0...80, using: &generator)).map { _ in UInt8.random(in: 0...255, using: &generator) }
                if round % 4 == 0 { bytes = Array("RIFF\u{0}\u{0}\u{0}\u{0}WAVE".utf8) + bytes }
            } else {
                bytes = valid
                for _ in 0..<Int.random(in: 1...6, using: &generator) {
                    bytes[Int.random(in: 0..<bytes.count, using: &generator)] = UInt8.random(in: 0...255, using: &generator)
                }
                bytes = Array(bytes.prefix(Int.random(in: 0...bytes.count, using: &generator)))
            }
            _ = try? SoundConverter.convert(wav: bytes)
        }
    }
}

@Suite struct BuiltInPromptTests {
    @Test func everyPromptIsEmbeddedAndPlayable() {
        for prompt in BuiltInPrompt.allCases {
            #expect(prompt.durationMilliseconds > 1000, "\(prompt)")
            #expect(prompt.durationMilliseconds < 15_000, "\(prompt)")
            #expect(prompt.ulaw.count == prompt.alaw.count)
            // Not silence: a spoken prompt has a clear level.
            #expect(rms(prompt.ulaw.map { G711.linear(ulaw: $0) }) > 1000, "\(prompt)")
        }
        #expect(Set(BuiltInPrompt.allCases.map(\.rawValue)) == ["rating_prompt", "rating_finish", "invalid_key"])
    }
}
