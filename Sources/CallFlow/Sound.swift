/// What to play: a prompt built into the server, or a client's uploaded sound.
public enum SoundReference: Sendable, Hashable {
    case builtIn(BuiltInSound)
    case uploaded(id: Int64)

    /// A configured sound id where 0 means the built-in default (SPEC §4.1).
    public static func configured(_ id: Int64, default builtIn: BuiltInSound) -> SoundReference {
        id == 0 ? .builtIn(builtIn) : .uploaded(id: id)
    }
}

public enum BuiltInSound: String, Sendable, Hashable, CaseIterable {
    case ratingPrompt = "rating_prompt"
    case ratingFinish = "rating_finish"
    case invalidKey = "invalid_key"
}
