import Domain
import Foundation
import Storage
import Testing
import TestSupport

@Suite struct SoundStoreTests {
    let database: TestStore
    let store: any Store

    init() async throws {
        database = try await TestStore()
        store = database.store
    }

    func audio(_ filename: String = "hello.wav", samples: Int = 800) -> SoundAudio {
        SoundAudio(
            filename: filename, sourceFormat: "PCM 16-bit, 8000 Hz, mono", durationMilliseconds: Int64(samples / 8),
            ulaw: (0..<samples).map { UInt8(truncatingIfNeeded: $0) }, alaw: (0..<samples).map { UInt8(truncatingIfNeeded: $0 * 3) })
    }

    @Test func createsListsAndReadsSoundsOfOneClientOnly() async throws {
        let acme = try await store.createClient(name: "Acme", timezone: "UTC", domain: "acme.local")
        let other = try await store.createClient(name: "Other", timezone: "UTC", domain: "other.local")
        let greeting = try await store.createSound(clientID: acme.id, title: "Greeting", audio: audio())
        let thanks = try await store.createSound(clientID: acme.id, title: "Thanks", audio: audio("thanks.wav", samples: 1600))
        let foreign = try await store.createSound(clientID: other.id, title: "Theirs", audio: audio())

        #expect(try await store.sounds(clientID: acme.id) == [greeting, thanks])
        #expect(try await store.sound(clientID: acme.id, id: thanks.id) == thanks)
        #expect(thanks.durationMilliseconds == 200)
        #expect(thanks.createdAt == thanks.updatedAt)
        #expect(try await store.soundAudio(clientID: acme.id, id: thanks.id) == audio("thanks.wav", samples: 1600))
        #expect(try await store.soundExists(clientID: acme.id, id: greeting.id))

        #expect(try await store.sound(clientID: acme.id, id: foreign.id) == nil)
        #expect(try await store.soundAudio(clientID: acme.id, id: foreign.id) == nil)
        #expect(try await !store.soundExists(clientID: acme.id, id: foreign.id))
        #expect(try await store.updateSoundTitle(clientID: acme.id, id: foreign.id, title: "Mine") == nil)
        #expect(try await store.replaceSoundAudio(clientID: acme.id, id: foreign.id, title: nil, audio: audio()) == nil)
        #expect(try await !store.deleteSound(clientID: acme.id, id: foreign.id))
        #expect(try await store.sound(clientID: other.id, id: foreign.id) == foreign)
    }

    @Test func changesTheTitleOrTheAudio() async throws {
        let acme = try await store.createClient(name: "Acme", timezone: "UTC", domain: "acme.local")
        let sound = try await store.createSound(clientID: acme.id, title: "Greeting", audio: audio())

        let renamed = try #require(try await store.updateSoundTitle(clientID: acme.id, id: sound.id, title: "Welcome"))
        #expect(renamed.title == "Welcome")
        #expect(renamed.filename == "hello.wav")

        let replaced = try #require(try await store.replaceSoundAudio(
            clientID: acme.id, id: sound.id, title: nil, audio: audio("new.wav", samples: 2400)))
        #expect(replaced.title == "Welcome")
        #expect(replaced.filename == "new.wav")
        #expect(replaced.durationMilliseconds == 300)
        #expect(replaced.createdAt == sound.createdAt)
        #expect(try await store.soundAudio(clientID: acme.id, id: sound.id)?.ulaw.count == 2400)

        let retitled = try #require(try await store.replaceSoundAudio(clientID: acme.id, id: sound.id, title: "Hello", audio: audio()))
        #expect(retitled.title == "Hello")
    }

    @Test func deletesASoundNothingPlays() async throws {
        let acme = try await store.createClient(name: "Acme", timezone: "UTC", domain: "acme.local")
        let sound = try await store.createSound(clientID: acme.id, title: "Greeting", audio: audio())
        #expect(try await store.deleteSound(clientID: acme.id, id: sound.id))
        #expect(try await store.sound(clientID: acme.id, id: sound.id) == nil)
        #expect(try await !store.deleteSound(clientID: acme.id, id: sound.id))
    }

    @Test func refusesToDeleteASoundAVoiceMenuPlays() async throws {
        let acme = try await store.createClient(name: "Acme", timezone: "UTC", domain: "acme.local")
        let prompt = try await store.createSound(clientID: acme.id, title: "Prompt", audio: audio())
        let thanks = try await store.createSound(clientID: acme.id, title: "Thanks", audio: audio())
        let ivr = try await store.createExtension(NewExtension(clientID: acme.id, name: "300", kind: .ivr, label: ""))
        let context = try await store.createIVRContext(clientID: acme.id, ivrID: ivr.id, .init(name: "main"))
        let rule = try await store.createIVRRule(
            clientID: acme.id, ivrID: ivr.id, contextID: context.id, option: "start", position: nil,
            IVRRuleDefinition(action: .qualityRate(sound: prompt.id, maxRate: 5, finishSound: thanks.id)))

        await #expect(throws: SoundInUse(usedBy: ["IVR rule \(rule.id) (sound)"])) {
            _ = try await store.deleteSound(clientID: acme.id, id: prompt.id)
        }
        await #expect(throws: SoundInUse(usedBy: ["IVR rule \(rule.id) (finish_sound)"])) {
            _ = try await store.deleteSound(clientID: acme.id, id: thanks.id)
        }
        #expect(try await store.sounds(clientID: acme.id).count == 2)

        try await store.deleteIVRRule(clientID: acme.id, ivrID: ivr.id, contextID: context.id, option: "start", id: rule.id)
        #expect(try await store.deleteSound(clientID: acme.id, id: prompt.id))
    }
}
