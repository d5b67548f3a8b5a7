import Audio
import CallFlow
import Media
import Storage

/// The audio of a sound in the law a leg negotiated: built-in prompts from `Audio`, uploaded
/// sounds from storage (converted to both laws when they were uploaded).
struct SoundLibrary: Sendable {
    let store: any Store

    /// nil when an uploaded sound no longer exists (deleted while a menu still named it).
    func audio(of sound: SoundReference, clientID: Int64, codec: G711Codec) async -> [UInt8]? {
        switch sound {
        case .builtIn(let builtIn):
            guard let prompt = BuiltInPrompt(rawValue: builtIn.rawValue) else { return nil }
            return codec == .pcmu ? prompt.ulaw : prompt.alaw
        case .uploaded(let id):
            guard let audio = try? await store.soundAudio(clientID: clientID, id: id) else { return nil }
            return codec == .pcmu ? audio.ulaw : audio.alaw
        }
    }
}
