/// The prompts played where no sound is configured (SPEC §4.1, §7): the question, the thanks,
/// and the answer to a key outside the allowed range. They are spoken by espeak-ng
/// (tools/make_prompts.sh) into `Prompts/*.wav`, which SwiftPM embeds in the binary, so the server
/// needs no files beside it.
public enum BuiltInPrompt: String, Sendable, CaseIterable {
    /// "Please rate this conversation by pressing a key on your phone. One is the lowest rating;
    /// the higher the number, the better." — true whatever the highest key (1…9) is.
    case ratingPrompt = "rating_prompt"
    /// "Thank you for your rating. Goodbye."
    case ratingFinish = "rating_finish"
    /// "Sorry, that key is not valid."
    case invalidKey = "invalid_key"

    // `decoded` holds every case (it is built from `allCases`), so its lookups cannot fail.

    /// The prompt as 8 kHz G.711 µ-law samples.
    public var ulaw: [UInt8] { Self.decoded[self]!.ulaw }
    /// The prompt as 8 kHz G.711 A-law samples.
    public var alaw: [UInt8] { Self.decoded[self]!.alaw }
    public var durationMilliseconds: Int64 { Self.decoded[self]!.durationMilliseconds }

    /// Every prompt decoded once, on first use, through the same checks as an upload.
    private static let decoded: [BuiltInPrompt: ConvertedSound] = Dictionary(uniqueKeysWithValues: allCases.map { prompt in
        do {
            return (prompt, try SoundConverter.convert(wav: prompt.wav))
        } catch {
            preconditionFailure("the embedded \(prompt.rawValue) prompt is not a playable WAV (\(error)); run tools/make_prompts.sh")
        }
    })

    /// The prompt's WAV file (8 kHz mono µ-law), `Prompts/NAME.wav`.
    private var wav: [UInt8] {
        switch self {
        case .ratingPrompt: PackageResources.ratingPrompt_wav
        case .ratingFinish: PackageResources.ratingFinish_wav
        case .invalidKey: PackageResources.invalidKey_wav
        }
    }
}
