public import Domain

/// A stored sound without its audio: what lists and metadata show.
public struct SoundInfo: Sendable, Equatable {
    public var id: Int64
    public var clientID: Int64
    public var title: String
    /// The name of the uploaded file, as the uploader's system called it.
    public var filename: String
    /// What the upload was, e.g. "PCM 16-bit, 16000 Hz, mono"; the stored audio is always 8 kHz G.711.
    public var sourceFormat: String
    public var durationMilliseconds: Int64
    public var createdAt: UnixTime
    public var updatedAt: UnixTime

    public init(
        id: Int64, clientID: Int64, title: String, filename: String, sourceFormat: String, durationMilliseconds: Int64,
        createdAt: UnixTime, updatedAt: UnixTime
    ) {
        self.id = id
        self.clientID = clientID
        self.title = title
        self.filename = filename
        self.sourceFormat = sourceFormat
        self.durationMilliseconds = durationMilliseconds
        self.createdAt = createdAt
        self.updatedAt = updatedAt
    }
}

/// Converted audio with where it came from: what an upload stores, as one unit.
public struct SoundAudio: Sendable, Equatable {
    public var filename: String
    public var sourceFormat: String
    public var durationMilliseconds: Int64
    /// 8 kHz mono G.711 µ-law and A-law, one byte per sample, ready to play.
    public var ulaw: [UInt8]
    public var alaw: [UInt8]

    public init(filename: String, sourceFormat: String, durationMilliseconds: Int64, ulaw: [UInt8], alaw: [UInt8]) {
        self.filename = filename
        self.sourceFormat = sourceFormat
        self.durationMilliseconds = durationMilliseconds
        self.ulaw = ulaw
        self.alaw = alaw
    }
}

/// A sound cannot be deleted while the configuration plays it; `usedBy` names each place
/// ("IVR rule 12 (sound)") so the caller can change them first.
public struct SoundInUse: Error, Equatable {
    public var usedBy: [String]

    public init(usedBy: [String]) { self.usedBy = usedBy }
}

/// Uploaded sounds (SPEC §4, §7), every method scoped by client: another client's id behaves
/// exactly like an id that does not exist.
public protocol SoundStore: Sendable {
    /// Whether `id` is a sound of this client: what every sound reference is validated with.
    func soundExists(clientID: Int64, id: Int64) async throws -> Bool

    func createSound(clientID: Int64, title: String, audio: SoundAudio) async throws -> SoundInfo
    /// The client's sounds in id order, without audio.
    func sounds(clientID: Int64) async throws -> [SoundInfo]
    func sound(clientID: Int64, id: Int64) async throws -> SoundInfo?
    func soundAudio(clientID: Int64, id: Int64) async throws -> SoundAudio?
    /// Nil when there is no such sound of this client.
    func updateSoundTitle(clientID: Int64, id: Int64, title: String) async throws -> SoundInfo?
    /// Replaces the audio (and its filename and format) and, when given, the title, in one write.
    func replaceSoundAudio(clientID: Int64, id: Int64, title: String?, audio: SoundAudio) async throws -> SoundInfo?
    /// False when there is no such sound of this client; throws `SoundInUse` while the
    /// configuration references it (nothing is deleted then).
    func deleteSound(clientID: Int64, id: Int64) async throws -> Bool
}

/// A configured place that plays a sound: a column holding a sound id. Every store looks in all
/// of them before it deletes a sound, so whoever adds a column holding a sound id adds it to
/// `all` (one list for SQLite and PostgreSQL), and a sound in use is never deleted from under a
/// call.
public struct SoundReferenceColumn: Sendable {
    /// What `SoundInUse.usedBy` calls the place, before the id of its row ("IVR rule").
    let place: String
    let table: String
    /// The column whose value names the row: "IVR rule 12".
    let rowColumn: String
    let soundColumn: String

    public static let all: [SoundReferenceColumn] = [
        SoundReferenceColumn(place: "queue", table: "queue", rowColumn: "extension_id", soundColumn: "quality_rate_sound"),
        SoundReferenceColumn(place: "queue", table: "queue", rowColumn: "extension_id", soundColumn: "quality_rate_finish_sound"),
        SoundReferenceColumn(place: "queue", table: "queue", rowColumn: "extension_id", soundColumn: "announce_sound"),
        SoundReferenceColumn(place: "IVR rule", table: "ivr_rule", rowColumn: "id", soundColumn: "sound"),
        SoundReferenceColumn(place: "IVR rule", table: "ivr_rule", rowColumn: "id", soundColumn: "record_digits_sound"),
        SoundReferenceColumn(place: "IVR rule", table: "ivr_rule", rowColumn: "id", soundColumn: "finish_sound"),
    ]

    /// The places of this kind that play the sound whose id is bound to `parameter` (`?` on
    /// SQLite, `$1` on PostgreSQL), named as `SoundInUse.usedBy` lists them ("IVR rule 12
    /// (sound)"), in row order. Sound ids are unique across clients, so no client filter is needed.
    public func query(parameter: String) -> String {
        "SELECT '\(place) ' || \(rowColumn) || ' (\(soundColumn))' FROM \(table) WHERE \(soundColumn) = \(parameter) ORDER BY \(rowColumn)"
    }
}
