import Access
import Domain
import Foundation
import HTTPTypes
import Hummingbird
import Storage
import Testing

/// WAV bytes built by the test: PCM or G.711, mono unless told.
private func wav(format: UInt16 = 1, channels: UInt16 = 1, rate: UInt32 = 16000, bits: UInt16 = 16, data: [UInt8]) -> [UInt8] {
    func le16(_ value: UInt16) -> [UInt8] { [UInt8(value & 0xFF), UInt8(value >> 8)] }
    func le32(_ value: UInt32) -> [UInt8] { (0..<4).map { UInt8((value >> (8 * $0)) & 0xFF) } }
    let align = channels * bits / 8
    let fmt = le16(format) + le16(channels) + le32(rate) + le32(rate * UInt32(align)) + le16(align) + le16(bits)
    let body = Array("WAVE".utf8) + Array("fmt ".utf8) + le32(16) + fmt + Array("data".utf8) + le32(UInt32(data.count)) + data
    return Array("RIFF".utf8) + le32(UInt32(body.count)) + body
}

/// `seconds` of a 440 Hz tone, 16-bit PCM.
private func tone(seconds: Double, rate: Double = 16000) -> [UInt8] {
    (0..<Int(seconds * rate)).flatMap { index -> [UInt8] in
        let sample = Int16(8000 * sin(2 * Double.pi * 440 * Double(index) / rate))
        return [UInt8(truncatingIfNeeded: sample), UInt8(truncatingIfNeeded: sample >> 8)]
    }
}

/// One millisecond of stored silence, for sounds a test puts straight into the store.
private func silence(_ filename: String) -> SoundAudio {
    SoundAudio(
        filename: filename, sourceFormat: "µ-law 8-bit, 8000 Hz, mono", durationMilliseconds: 1,
        ulaw: [UInt8](repeating: 0xFF, count: 8), alaw: [UInt8](repeating: 0xD5, count: 8))
}

private let boundary = "----qualityrate-test-7MA4YWxkTrZu0gW"

/// A multipart/form-data body: text fields, then files as (field, filename, bytes).
private func multipart(_ fields: [(String, String)], files: [(String, String?, [UInt8])] = []) -> [UInt8] {
    var body: [UInt8] = []
    for (name, value) in fields {
        body += Array("--\(boundary)\r\nContent-Disposition: form-data; name=\"\(name)\"\r\n\r\n\(value)\r\n".utf8)
    }
    for (name, filename, bytes) in files {
        let filenameParameter = filename.map { "; filename=\"\($0)\"" } ?? ""
        body += Array("--\(boundary)\r\nContent-Disposition: form-data; name=\"\(name)\"\(filenameParameter)\r\nContent-Type: audio/wav\r\n\r\n".utf8)
        body += bytes + Array("\r\n".utf8)
    }
    return body + Array("--\(boundary)--\r\n".utf8)
}

extension APIFixture.Client {
    /// POSTs raw bytes, by default as multipart/form-data with the tests' boundary.
    func upload(
        _ path: String, token: String, body: [UInt8],
        contentType: String = "multipart/form-data; boundary=\(boundary)"
    ) async throws -> APIFixture.Reply {
        let response = try await http.execute(
            uri: path, method: .post, headers: [.authorization: "Bearer \(token)", .contentType: contentType],
            body: ByteBuffer(bytes: body))
        return APIFixture.Reply(status: response.status, headers: response.headers, body: Data(response.body.readableBytesView))
    }
}

@Suite struct SoundAPITests {
    @Test func uploadsListsShowsRenamesReplacesDownloadsAndDeletes() async throws {
        let fixture = try await APIFixture()
        try await fixture.withServer { client in
            let token = try await client.token(fixture.acme)
            let base = "/api/ver1.0/client/\(fixture.acme.clientID)/sound/"
            let created = try await client.upload(
                base, token: token, body: multipart([("title", "  Welcome  ")], files: [("file", "C:\\prompts\\welcome.wav", wav(data: tone(seconds: 1.5)))]))
            #expect(created.status == .created, "\(created.text)")
            let id = try #require(created.object["id"] as? Int)
            #expect(created.object["title"] as? String == "Welcome")
            #expect(created.object["filename"] as? String == "welcome.wav")
            #expect(created.object["duration"] as? Int == 1500)
            let createDate = try #require(created.object["create_date"] as? String)
            #expect(LocalDateTime(parsing: createDate) != nil)
            #expect(created.object["update_date"] as? String == createDate)
            #expect(Set(created.object.keys) == ["id", "title", "filename", "duration", "create_date", "update_date"])

            let list = try await client.get(base, token: token)
            #expect(list.status == .ok)
            #expect(list.array.map { $0["id"] as? Int } == [id])
            #expect(try await client.get(base + "\(id)", token: token).object["title"] as? String == "Welcome")

            let renamed = try await client.send(.put, base + "\(id)", token: token, body: "{\"title\":\"Hello\"}", contentType: "application/json")
            #expect(renamed.status == .ok)
            #expect(renamed.object["title"] as? String == "Hello")
            #expect(renamed.object["duration"] as? Int == 1500)

            let ulaw = [UInt8](repeating: 0xFF, count: 4000)
            let replaced = try await client.upload(
                base + "\(id)", token: token, body: multipart([], files: [("file", "short.wav", wav(format: 7, rate: 8000, bits: 8, data: ulaw))]))
            #expect(replaced.status == .ok, "\(replaced.text)")
            #expect(replaced.object["title"] as? String == "Hello")
            #expect(replaced.object["filename"] as? String == "short.wav")
            #expect(replaced.object["duration"] as? Int == 500)

            let download = try await client.get(base + "\(id)/download", token: token)
            #expect(download.status == .ok)
            #expect(download.headers[.contentType] == "audio/wav")
            let file = [UInt8](download.body)
            #expect(Array(file[0..<4]) == Array("RIFF".utf8))
            #expect(Array(file[8..<12]) == Array("WAVE".utf8))
            #expect(file[20] == 7 && file[24] == 0x40 && file[25] == 0x1F, "µ-law at 8000 Hz")
            #expect(Array(file.suffix(4000)) == ulaw)

            let deleted = try await client.send(.delete, base + "\(id)", token: token)
            #expect(deleted.status == .noContent)
            try await client.get(base + "\(id)", token: token).expectError(.notFound, code: "not_found", mentioning: "sound \(id)")
            #expect(try await client.get(base, token: token).array.isEmpty)
        }
    }

    @Test func refusesWhatItCannotPlaySayingWhatIsAccepted() async throws {
        let fixture = try await APIFixture()
        try await fixture.withServer { client in
            let token = try await client.token(fixture.acme)
            let base = "/api/ver1.0/client/\(fixture.acme.clientID)/sound/"
            func upload(_ file: [UInt8]) async throws -> APIFixture.Reply {
                try await client.upload(base, token: token, body: multipart([("title", "x")], files: [("file", "x.wav", file)]))
            }
            try await upload(Array("ID3\u{4}\0\0\0\0\0\0 some mp3".utf8))
                .expectError(.unsupportedMediaType, code: "unsupported_media_type", mentioning: "MP3")
            try await upload(Array("just text".utf8))
                .expectError(.unsupportedMediaType, code: "unsupported_media_type", mentioning: "accepted: WAV")
            try await upload(wav(channels: 2, data: tone(seconds: 0.1)))
                .expectError(.unprocessableContent, code: "invalid_value", mentioning: "2 channels")
            try await upload(wav(rate: 44100, data: tone(seconds: 0.1, rate: 44100)))
                .expectError(.unprocessableContent, code: "invalid_value", mentioning: "44100 Hz")
            try await upload(wav(format: 3, bits: 32, data: [0, 0, 0, 0]))
                .expectError(.unprocessableContent, code: "invalid_value", mentioning: "floating point")
            try await upload(wav(data: []))
                .expectError(.unprocessableContent, code: "invalid_value", mentioning: "no audio")
            #expect(try await fixture.store.sounds(clientID: fixture.acme.clientID).isEmpty)
        }
    }

    @Test func refusesMalformedRequestsAndChangesNothing() async throws {
        let fixture = try await APIFixture()
        try await fixture.withServer { client in
            let token = try await client.token(fixture.acme)
            let base = "/api/ver1.0/client/\(fixture.acme.clientID)/sound/"
            let good = wav(data: tone(seconds: 0.2))
            try await client.upload(base, token: token, body: multipart([], files: [("file", "a.wav", good)]))
                .expectError(.badRequest, code: "invalid_parameter", mentioning: "title")
            try await client.upload(base, token: token, body: multipart([("title", "No file")]))
                .expectError(.badRequest, code: "invalid_parameter", mentioning: "file")
            try await client.upload(base, token: token, body: multipart([("title", "   ")], files: [("file", "a.wav", good)]))
                .expectError(.unprocessableContent, code: "invalid_value", mentioning: "title")
            try await client.upload(base, token: token, body: multipart([("title", String(repeating: "x", count: 201))], files: [("file", "a.wav", good)]))
                .expectError(.unprocessableContent, code: "invalid_value", mentioning: "title")
            try await client.upload(base, token: token, body: multipart([("title", "A"), ("colour", "red")], files: [("file", "a.wav", good)]))
                .expectError(.badRequest, code: "invalid_parameter", mentioning: "colour")
            try await client.upload(base, token: token, body: multipart([("title", "A"), ("title", "B")], files: [("file", "a.wav", good)]))
                .expectError(.badRequest, code: "invalid_parameter", mentioning: "title")
            try await client.upload(base, token: token, body: good, contentType: "audio/wav")
                .expectError(.unsupportedMediaType, code: "unsupported_media_type", mentioning: "multipart/form-data")
            try await client.upload(base, token: token, body: multipart([("title", "A")]), contentType: "multipart/form-data")
                .expectError(.badRequest, code: "invalid_parameter", mentioning: "boundary")
            // LF instead of CRLF, a missing closing boundary, a part without Content-Disposition.
            let lfOnly = Array(String(decoding: multipart([("title", "A")]), as: UTF8.self).replacingOccurrences(of: "\r\n", with: "\n").utf8)
            try await client.upload(base, token: token, body: lfOnly)
                .expectError(.badRequest, code: "invalid_parameter", mentioning: "malformed multipart")
            try await client.upload(base, token: token, body: Array("--\(boundary)\r\nContent-Disposition: form-data; name=\"title\"\r\n\r\nA".utf8))
                .expectError(.badRequest, code: "invalid_parameter", mentioning: "malformed multipart")
            try await client.upload(base, token: token, body: Array("--\(boundary)\r\nContent-Type: text/plain\r\n\r\nA\r\n--\(boundary)--".utf8))
                .expectError(.badRequest, code: "invalid_parameter", mentioning: "Content-Disposition")
            let huge = [UInt8](repeating: 0xFF, count: 10 * 1024 * 1024 + 70_000)
            try await client.upload(base, token: token, body: multipart([("title", "Huge")], files: [("file", "huge.wav", huge)]))
                .expectError(.contentTooLarge, code: "payload_too_large", mentioning: "10 MiB")
            #expect(try await fixture.store.sounds(clientID: fixture.acme.clientID).isEmpty)

            let created = try await client.upload(base, token: token, body: multipart([("title", "Kept")], files: [("file", nil, good)]))
            #expect(created.status == .created)
            #expect(created.object["filename"] as? String == "sound.wav")
            let id = try #require(created.object["id"] as? Int)
            try await client.send(.put, base + "\(id)", token: token, body: "{\"name\":\"x\"}", contentType: "application/json")
                .expectError(.badRequest, code: "invalid_parameter", mentioning: "name")
            try await client.send(.put, base + "\(id)", token: token, body: "{\"title\":\"\"}", contentType: "application/json")
                .expectError(.unprocessableContent, code: "invalid_value", mentioning: "title")
            try await client.upload(base + "\(id)", token: token, body: multipart([], files: [("file", "bad.wav", wav(channels: 2, data: tone(seconds: 0.1)))]))
                .expectError(.unprocessableContent, code: "invalid_value", mentioning: "2 channels")
            try await client.upload(base + "\(id)", token: token, body: multipart([("title", "New")]))
                .expectError(.badRequest, code: "invalid_parameter", mentioning: "file")
            let unchanged = try await client.get(base + "\(id)", token: token).object
            #expect(unchanged["title"] as? String == "Kept")
            #expect(unchanged["duration"] as? Int == 200)
            try await client.get(base + "abc", token: token).expectError(.badRequest, code: "invalid_parameter", mentioning: "id")
        }
    }

    @Test func readsMultipartAsClientsWriteIt() async throws {
        let fixture = try await APIFixture()
        try await fixture.withServer { client in
            let token = try await client.token(fixture.acme)
            let base = "/api/ver1.0/client/\(fixture.acme.clientID)/sound/"
            // µ-law samples that spell CRLF, dashes and the boundary's start: only CRLF + the whole
            // delimiter ends a part.
            let tricky = Array("\r\n--\r\n--X\r\n-".utf8) + [UInt8](repeating: 0xFF, count: 788)
            let file = wav(format: 7, rate: 8000, bits: 8, data: tricky)
            var body = Array("--XY\r\ncontent-disposition: form-data; name=title\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nÜbersicht\r\n".utf8)
            body += Array("--XY\r\nContent-Disposition: form-data; name=\"file\"; filename=\"prompt.wav\"\r\n\r\n".utf8) + file
            body += Array("\r\n--XY--".utf8)
            let created = try await client.upload(base, token: token, body: body, contentType: "multipart/form-data; charset=utf-8; boundary=\"XY\"")
            #expect(created.status == .created, "\(created.text)")
            #expect(created.object["title"] as? String == "Übersicht")
            #expect(created.object["duration"] as? Int == 100)
            let id = try #require(created.object["id"] as? Int)
            let download = [UInt8](try await client.get(base + "\(id)/download", token: token).body)
            #expect(Array(download.suffix(tricky.count)) == tricky)
        }
    }

    @Test func aCallAPITokenReadsButDoesNotChangeSounds() async throws {
        let fixture = try await APIFixture()
        let admin = try #require(try await fixture.store.user(username: fixture.acme.username))
        let readOnly = try await Provisioning(store: fixture.store).registerApplication(
            userID: admin.id, name: "reports", type: .trusted, access: .callAPI)
        try await fixture.withServer { client in
            let adminToken = try await client.token(fixture.acme)
            let token = try await client.token(appID: readOnly.appID, secret: readOnly.appSecret)
            let base = "/api/ver1.0/client/\(fixture.acme.clientID)/sound/"
            let body = multipart([("title", "Greeting")], files: [("file", "g.wav", wav(data: tone(seconds: 0.2)))])
            let id = try #require(try await client.upload(base, token: adminToken, body: body).object["id"] as? Int)
            #expect(try await client.get(base, token: token).array.count == 1)
            #expect(try await client.get(base + "\(id)", token: token).status == .ok)
            #expect(try await client.get(base + "\(id)/download", token: token).status == .ok)
            try await client.upload(base, token: token, body: body).expectError(.forbidden, code: "insufficient_access")
            try await client.upload(base + "\(id)", token: token, body: body).expectError(.forbidden, code: "insufficient_access")
            try await client.send(.put, base + "\(id)", token: token, body: "{\"title\":\"x\"}", contentType: "application/json")
                .expectError(.forbidden, code: "insufficient_access")
            try await client.send(.delete, base + "\(id)", token: token).expectError(.forbidden, code: "insufficient_access")
            #expect(try await fixture.store.sounds(clientID: fixture.acme.clientID).map(\.title) == ["Greeting"])
        }
    }

    @Test func anotherClientsSoundAnswers404() async throws {
        let fixture = try await APIFixture()
        let theirs = try await fixture.store.createSound(
            clientID: fixture.other.clientID, title: "Theirs",
            audio: silence("t.wav"))
        try await fixture.withServer { client in
            let token = try await client.token(fixture.acme)
            let mine = "/api/ver1.0/client/\(fixture.acme.clientID)/sound/\(theirs.id)"
            let upload = multipart([("title", "Mine")], files: [("file", "m.wav", wav(data: tone(seconds: 0.1)))])
            try await client.get(mine, token: token).expectError(.notFound, code: "not_found")
            try await client.get(mine + "/download", token: token).expectError(.notFound, code: "not_found")
            try await client.send(.put, mine, token: token, body: "{\"title\":\"x\"}", contentType: "application/json")
                .expectError(.notFound, code: "not_found")
            try await client.upload(mine, token: token, body: upload).expectError(.notFound, code: "not_found")
            try await client.send(.delete, mine, token: token).expectError(.notFound, code: "not_found")
            let theirPath = "/api/ver1.0/client/\(fixture.other.clientID)/sound/"
            try await client.get(theirPath, token: token).expectError(.notFound, code: "not_found")
            try await client.upload(theirPath, token: token, body: upload).expectError(.notFound, code: "not_found")
            #expect(try await fixture.store.sound(clientID: fixture.other.clientID, id: theirs.id) == theirs)
        }
    }

    @Test func aSoundAVoiceMenuPlaysCannotBeDeleted() async throws {
        let fixture = try await APIFixture()
        let clientID = fixture.acme.clientID
        let sound = try await fixture.store.createSound(
            clientID: clientID, title: "Menu",
            audio: silence("m.wav"))
        let ivr = try await fixture.store.createExtension(NewExtension(clientID: clientID, name: "300", kind: .ivr, label: ""))
        let context = try await fixture.store.createIVRContext(clientID: clientID, ivrID: ivr.id, .init(name: "main"))
        let rule = try await fixture.store.createIVRRule(
            clientID: clientID, ivrID: ivr.id, contextID: context.id, option: "start", position: nil,
            IVRRuleDefinition(action: .playSound(sound: sound.id, type: .foreground)))
        try await fixture.withServer { client in
            let token = try await client.token(fixture.acme)
            try await client.send(.delete, "/api/ver1.0/client/\(clientID)/sound/\(sound.id)", token: token)
                .expectError(.conflict, code: "conflict", mentioning: "IVR rule \(rule.id) (sound)")
            #expect(try await fixture.store.sound(clientID: clientID, id: sound.id) != nil)
        }
    }
}
