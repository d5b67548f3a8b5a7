import Audio
import Domain
import Foundation
import Hummingbird
import NIOCore
import Storage

/// `/client/{client_id}/sound/` (SPEC §4, §7): WAV uploads, checked and converted once to the
/// 8 kHz G.711 audio calls play; `POST …/sound/{id}` replaces the audio, `…/download` returns it.
struct SoundRoutes {
    let store: any Store

    /// The largest file accepted (the reference API's 10 MB).
    static let maximumFileBytes = 10 * 1024 * 1024
    /// Room for the multipart envelope and the title around the file.
    static let maximumBodyBytes = maximumFileBytes + 64 * 1024

    func register(on routes: inout RouteTable) {
        routes.get("client/:client_id/sound", list)
        routes.post("client/:client_id/sound", create)
        routes.get("client/:client_id/sound/:id", show)
        routes.put("client/:client_id/sound/:id", update)
        routes.post("client/:client_id/sound/:id", replaceAudio)
        routes.delete("client/:client_id/sound/:id", delete)
        routes.get("client/:client_id/sound/:id/download", download)
    }

    @Sendable func list(_ request: Request, context: APIRequestContext) async throws -> Response {
        let clientID = try context.ownedClientID()
        let zone = try await store.clientTimeZone(clientID)
        var json = JSONBytes()
        json.beginArray()
        for sound in try await store.sounds(clientID: clientID) { json.sound(sound, zone: zone) }
        json.endArray()
        return .json(json)
    }

    @Sendable func create(_ request: Request, context: APIRequestContext) async throws -> Response {
        let clientID = try context.ownedClientID()
        guard try context.requirePrincipal().mayChangeConfiguration else { throw APIError.configurationForbidden }
        let form = try await Self.form(of: request, accepting: ["title", "file"])
        guard let title = try Self.title(in: form) else {
            throw APIError.badParameter("title", "required: the sound's display name, 1 to 200 characters")
        }
        let audio = try Self.audio(in: form)
        let zone = try await store.clientTimeZone(clientID)
        let sound = try await store.createSound(clientID: clientID, title: title, audio: audio)
        var json = JSONBytes()
        json.sound(sound, zone: zone)
        return .json(json, status: .created)
    }

    @Sendable func show(_ request: Request, context: APIRequestContext) async throws -> Response {
        let clientID = try context.ownedClientID()
        let id = try context.pathID("id")
        guard let sound = try await store.sound(clientID: clientID, id: id) else { throw APIError.notFound("sound \(id)") }
        var json = JSONBytes()
        json.sound(sound, zone: try await store.clientTimeZone(clientID))
        return .json(json)
    }

    @Sendable func update(_ request: Request, context: APIRequestContext) async throws -> Response {
        let clientID = try context.ownedClientID()
        let id = try context.pathID("id")
        guard try context.requirePrincipal().mayChangeConfiguration else { throw APIError.configurationForbidden }
        let fields = try await JSONBody.object(of: request, context: context)
        var title: String?
        for (key, value) in fields {
            guard key == "title" else {
                throw APIError.badParameter(
                    APIError.printable(key), "unknown field; a sound's title is changed here, its audio with POST …/sound/{id}")
            }
            guard let text = value as? String else { throw APIError.badParameter("title", "expected a string") }
            title = try Self.validTitle(text)
        }
        let updated = if let title {
            try await store.updateSoundTitle(clientID: clientID, id: id, title: title)
        } else {
            try await store.sound(clientID: clientID, id: id)
        }
        guard let updated else { throw APIError.notFound("sound \(id)") }
        var json = JSONBytes()
        json.sound(updated, zone: try await store.clientTimeZone(clientID))
        return .json(json)
    }

    @Sendable func replaceAudio(_ request: Request, context: APIRequestContext) async throws -> Response {
        let clientID = try context.ownedClientID()
        let id = try context.pathID("id")
        guard try context.requirePrincipal().mayChangeConfiguration else { throw APIError.configurationForbidden }
        guard try await store.soundExists(clientID: clientID, id: id) else { throw APIError.notFound("sound \(id)") }
        let form = try await Self.form(of: request, accepting: ["file", "title"])
        let title = try Self.title(in: form)
        let audio = try Self.audio(in: form)
        guard let sound = try await store.replaceSoundAudio(clientID: clientID, id: id, title: title, audio: audio) else {
            throw APIError.notFound("sound \(id)")
        }
        var json = JSONBytes()
        json.sound(sound, zone: try await store.clientTimeZone(clientID))
        return .json(json)
    }

    @Sendable func delete(_ request: Request, context: APIRequestContext) async throws -> Response {
        let clientID = try context.ownedClientID()
        let id = try context.pathID("id")
        guard try context.requirePrincipal().mayChangeConfiguration else { throw APIError.configurationForbidden }
        do {
            guard try await store.deleteSound(clientID: clientID, id: id) else { throw APIError.notFound("sound \(id)") }
        } catch let inUse as SoundInUse {
            let places = inUse.usedBy.prefix(10).joined(separator: ", ") + (inUse.usedBy.count > 10 ? ", …" : "")
            throw APIError(
                status: .conflict, code: "conflict",
                description: "sound \(id) is in use by \(places); choose another sound there first")
        }
        return Response(status: .noContent)
    }

    @Sendable func download(_ request: Request, context: APIRequestContext) async throws -> Response {
        let clientID = try context.ownedClientID()
        let id = try context.pathID("id")
        guard let audio = try await store.soundAudio(clientID: clientID, id: id) else { throw APIError.notFound("sound \(id)") }
        return Response(
            status: .ok,
            headers: [.contentType: "audio/wav", .contentDisposition: "attachment; filename=\"sound-\(id).wav\""],
            body: ResponseBody(byteBuffer: ByteBuffer(bytes: SoundConverter.wavFile(ulaw: audio.ulaw))))
    }

    // MARK: Reading an upload

    /// The multipart body, at most `maximumBodyBytes`, with only the `accepting` fields.
    private static func form(of request: Request, accepting fields: Set<String>) async throws -> MultipartForm {
        try request.requireContentType("multipart/form-data", sentAs: "multipart/form-data (fields: \(fields.sorted().joined(separator: ", ")))")
        let buffer: ByteBuffer
        do {
            buffer = try await request.body.collect(upTo: maximumBodyBytes)
        } catch is NIOTooManyBytesError {
            throw APIError(
                status: .contentTooLarge, code: "payload_too_large",
                description: "the upload is larger than 10 MiB; send a shorter sound or 8 kHz µ-law/A-law, which is a quarter of the size of 16 kHz PCM")
        }
        let form = try MultipartForm(body: Array(buffer.readableBytesView), contentType: request.headers[.contentType] ?? "")
        for part in form.parts where !fields.contains(part.name) {
            throw APIError.badParameter(
                APIError.printable(part.name), "unknown form field; send \(fields.sorted().joined(separator: " and "))")
        }
        return form
    }

    /// The `title` field when sent, validated; nil when absent.
    private static func title(in form: MultipartForm) throws -> String? {
        guard let part = form["title"] else { return nil }
        guard part.filename == nil, let text = String(validating: part.body, as: UTF8.self) else {
            throw APIError.badParameter("title", "expected a text field in UTF-8, not a file")
        }
        return try validTitle(text)
    }

    private static func validTitle(_ text: String) throws -> String {
        let trimmed = text.trimmingCharacters(in: .whitespacesAndNewlines)
        guard !trimmed.isEmpty, trimmed.unicodeScalars.count <= 200,
            !trimmed.containsControlCharacters
        else { throw APIError.invalidValue("title", "must be 1 to 200 printable characters") }
        return trimmed
    }

    /// The `file` field, checked and converted: 415 when it is not a WAV file, 422 when it is one
    /// the server does not play, 413 above 10 MiB.
    private static func audio(in form: MultipartForm) throws -> SoundAudio {
        guard let part = form["file"] else {
            throw APIError.badParameter("file", "required: the sound as a WAV file (\(SoundConverter.acceptedFormats))")
        }
        guard part.body.count <= maximumFileBytes else {
            throw APIError(
                status: .contentTooLarge, code: "payload_too_large", description: "file: larger than 10 MiB (\(part.body.count) bytes)")
        }
        let filename = try validFilename(part.filename)
        let converted: ConvertedSound
        do {
            converted = try SoundConverter.convert(wav: Array(part.body))
        } catch .notWAV(let reason) {
            throw APIError(status: .unsupportedMediaType, code: "unsupported_media_type", description: "file: \(reason)")
        } catch .unaccepted(let reason) {
            throw APIError.invalidValue("file", reason)
        }
        return SoundAudio(
            filename: filename, sourceFormat: converted.sourceFormat, durationMilliseconds: converted.durationMilliseconds,
            ulaw: converted.ulaw, alaw: converted.alaw)
    }

    /// The uploaded file's own name without any folder a browser may send; "sound.wav" when the
    /// part has no filename (e.g. `curl -F 'file=<greeting.wav'`).
    private static func validFilename(_ sent: String?) throws -> String {
        guard let sent, !sent.isEmpty else { return "sound.wav" }
        let name = String(sent.split(whereSeparator: { $0 == "/" || $0 == "\\" }).last ?? "")
        guard !name.isEmpty, name.unicodeScalars.count <= 255,
            !name.containsControlCharacters
        else { throw APIError.invalidValue("file", "the filename must be 1 to 255 printable characters") }
        return name
    }
}

extension JSONBytes {
    /// A sound as the API shows it: `duration` in milliseconds, dates in the client's zone.
    mutating func sound(_ sound: SoundInfo, zone: ClientTimeZone) {
        beginObject()
        field("id", sound.id)
        field("title", sound.title)
        field("filename", sound.filename)
        field("duration", sound.durationMilliseconds)
        field("create_date", zone.localTime(of: sound.createdAt))
        field("update_date", zone.localTime(of: sound.updatedAt))
        endObject()
    }
}
