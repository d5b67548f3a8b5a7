import Access
import Domain
import Foundation
import HTTPTypes
import Storage
import Testing

/// The voice-menu configuration API (SPEC §4.2) over real HTTP.
@Suite struct IVRAPITests {
    /// Acme with the IVR `099` and the phone `100`; Other with its own IVR `099` and phone `555`.
    struct Setup {
        let fixture: APIFixture
        let ivr: Extension
        let phone: Extension
        let theirIVR: Extension
        let theirPhone: Extension

        init() async throws {
            fixture = try await APIFixture()
            let store = fixture.store
            ivr = try await store.createExtension(NewExtension(clientID: fixture.acme.clientID, name: "099", kind: .ivr, label: "Feedback"))
            phone = try await store.createExtension(NewExtension(clientID: fixture.acme.clientID, name: "100", kind: .phone, label: "Desk"))
            theirIVR = try await store.createExtension(NewExtension(clientID: fixture.other.clientID, name: "099", kind: .ivr, label: "Theirs"))
            theirPhone = try await store.createExtension(NewExtension(clientID: fixture.other.clientID, name: "555", kind: .phone, label: "Theirs"))
        }

        var base: String { "/api/ver1.0/extension/\(ivr.id)/ivr/" }
        func contextPath(_ id: Int64) -> String { base + "context/\(id)" }
        func rulesPath(_ context: Int64, _ option: String = "start") -> String { base + "context/\(context)/options/\(option)/rules/" }

        func sound(_ client: ProvisionedClient) async throws -> Int64 {
            try await fixture.store.createSound(
                clientID: client.clientID, title: "Prompt",
                audio: SoundAudio(filename: "prompt.wav", sourceFormat: "PCM 16-bit, 8000 Hz, mono", durationMilliseconds: 1,
                                  ulaw: [0xFF], alaw: [0xD5])).id
        }
    }

    @Test func optionsAnswerDefaultsThenChangeAndRefuseBadValuesChangingNothing() async throws {
        let setup = try await Setup()
        try await setup.fixture.withServer { client in
            let token = try await client.token(setup.fixture.acme)
            let defaults = try await client.get(setup.base, token: token)
            #expect(defaults.status == .ok)
            #expect(defaults.object["entry_context"] as? Int == 0)
            #expect(defaults.object["lifetime_exp_action"] as? String == "hangup")
            #expect(defaults.object["lifetime_exp_transfer_dst"] is NSNull)
            #expect(defaults.object["sleep_time"] as? Int == 0)

            let changed = try await client.json(
                .put, setup.base, token,
                #"{"lifetime": 120, "lifetime_exp_action": "transfer", "lifetime_exp_transfer_dst": "100", "sleep_time": 300}"#)
            #expect(changed.status == .ok, "\(changed.text)")
            #expect(changed.object["lifetime"] as? Int == 120)
            #expect(changed.object["lifetime_exp_transfer_dst"] as? String == "100")
            let before = try await client.get(setup.base, token: token).text

            for (body, status, field) in [
                (#"{"lifetime": -1}"#, HTTPResponse.Status.unprocessableContent, "lifetime"),
                (#"{"lifetime": "60"}"#, .badRequest, "lifetime"),
                (#"{"sleep_time": true}"#, .badRequest, "sleep_time"),
                (#"{"lifetime_exp_action": "park"}"#, .unprocessableContent, "lifetime_exp_action"),
                (#"{"lifetime_exp_transfer_dst": null}"#, .unprocessableContent, "lifetime_exp_transfer_dst"),
                (#"{"lifetime_exp_transfer_dst": "4711"}"#, .unprocessableContent, "lifetime_exp_transfer_dst"),
                // Another client's extension name is not a destination of this client.
                (#"{"lifetime_exp_transfer_dst": "555"}"#, .unprocessableContent, "lifetime_exp_transfer_dst"),
                (#"{"entry_context": 999, "lifetime": 5}"#, .unprocessableContent, "entry_context"),
                (#"{"vm_enabled": true}"#, .badRequest, "vm_enabled"),
            ] {
                let reply = try await client.json(.put, setup.base, token, body)
                reply.expectError(status, code: status == .badRequest ? "invalid_parameter" : "invalid_value", mentioning: field)
            }
            #expect(try await client.get(setup.base, token: token).text == before)
        }
    }

    @Test func contextsAreCreatedListedChangedAndDeletedUnlessInUse() async throws {
        let setup = try await Setup()
        try await setup.fixture.withServer { client in
            let token = try await client.token(setup.fixture.acme)
            let created = try await client.json(.post, setup.base + "context/", token, #"{"name": " main "}"#)
            #expect(created.status == .created, "\(created.text)")
            let main = try #require(created.object["id"] as? Int64)
            #expect(created.object["name"] as? String == "main")
            #expect(created.object["timeout"] as? Int == 5000)
            #expect(created.object["inter_digit_timeout"] as? Int == 2000)
            #expect(created.object["digit_len"] is NSNull)
            #expect(try await client.get(setup.base, token: token).object["entry_context"] as? Int64 == main)

            let rating = try #require(try await client.json(
                .post, setup.base + "context/", token, #"{"name": "rating", "timeout": 8000, "digit_len": 1}"#).object["id"] as? Int64)
            #expect(try await client.get(setup.base + "context/", token: token).array.map { $0["name"] as? String } == ["main", "rating"])

            try await client.json(.post, setup.base + "context/", token, #"{"name": "main"}"#)
                .expectError(.conflict, code: "conflict", mentioning: "name")
            try await client.json(.put, setup.contextPath(rating), token, #"{"name": "main"}"#)
                .expectError(.conflict, code: "conflict", mentioning: "name")
            try await client.json(.post, setup.base + "context/", token, #"{"timeout": 100}"#)
                .expectError(.unprocessableContent, code: "invalid_value", mentioning: "name")
            try await client.json(.post, setup.base + "context/", token, #"{"name": "x", "digit_len": 21}"#)
                .expectError(.unprocessableContent, code: "invalid_value", mentioning: "digit_len")
            try await client.json(.put, setup.contextPath(rating), token, #"{"timeout": 0}"#)
                .expectError(.unprocessableContent, code: "invalid_value", mentioning: "timeout")
            try await client.json(.put, setup.contextPath(rating), token, #"{"allow_any_dial": true}"#)
                .expectError(.badRequest, code: "invalid_parameter", mentioning: "allow_any_dial")
            #expect(try await client.get(setup.base + "context/", token: token).array.count == 2)

            let changed = try await client.json(.put, setup.contextPath(rating), token, #"{"inter_digit_timeout": 1500, "digit_len": null}"#)
            #expect(changed.status == .ok)
            #expect(changed.object["timeout"] as? Int == 8000)
            #expect(changed.object["inter_digit_timeout"] as? Int == 1500)
            #expect(changed.object["digit_len"] is NSNull)
            #expect(try await client.get(setup.contextPath(rating), token: token).object["inter_digit_timeout"] as? Int == 1500)

            // In use: the entry context, and the target of a jump from another context.
            try await client.send(.delete, setup.contextPath(main), token: token)
                .expectError(.conflict, code: "conflict", mentioning: "entry_context")
            let jump = try await client.json(.post, setup.rulesPath(main, "1"), token, #"{"action": "jump_to_context", "context": \#(rating)}"#)
            #expect(jump.status == .created, "\(jump.text)")
            let jumpID = try #require(jump.object["id"] as? Int64)
            try await client.send(.delete, setup.contextPath(rating), token: token)
                .expectError(.conflict, code: "conflict", mentioning: "rule \(jumpID)")
            #expect(try await client.get(setup.contextPath(rating), token: token).status == .ok)

            #expect(try await client.send(.delete, setup.rulesPath(main, "1") + "\(jumpID)", token: token).status == .noContent)
            #expect(try await client.send(.delete, setup.contextPath(rating), token: token).status == .noContent)
            try await client.get(setup.contextPath(rating), token: token).expectError(.notFound, code: "not_found")
            try await client.json(.put, setup.base, token, #"{"entry_context": 0}"#).expectSuccess()
            #expect(try await client.send(.delete, setup.contextPath(main), token: token).status == .noContent)
            #expect(try await client.get(setup.base + "context/", token: token).array.isEmpty)
        }
    }

    @Test func rulesOfEveryActionAreStoredInOrderAndMoved() async throws {
        let setup = try await Setup()
        let sound = try await setup.sound(setup.fixture.acme)
        try await setup.fixture.withServer { client in
            let token = try await client.token(setup.fixture.acme)
            let main = try #require(try await client.json(.post, setup.base + "context/", token, #"{"name": "main"}"#).object["id"] as? Int64)
            let rating = try #require(try await client.json(.post, setup.base + "context/", token, #"{"name": "rating"}"#).object["id"] as? Int64)
            let bodies = [
                #"{"action": "play_sound", "sound": \#(sound), "did": "4930555", "caller_id": "^\\+49", "caller_id_action": "matches"}"#,
                #"{"action": "set_variable", "set_variable_name": "lang", "set_variable_value": "de", "caller_id_action": "anonymous"}"#,
                #"{"action": "record_digits", "record_digits_variable": "account", "record_digits_max": 8}"#,
                #"{"action": "call_interactive", "call_interactive_url": "https://crm.example/ivr", "did": "^49"}"#,
                #"{"action": "quality_rate", "max_rate": 5, "finish_sound": \#(sound)}"#,
                ##"{"action": "jump_to_context", "context": \##(rating), "context_option": "#"}"##,
                #"{"action": "transfer", "transfer_dst": "100"}"#,
                #"{"action": "hangup"}"#,
            ]
            var ids: [Int64] = []
            for body in bodies {
                let reply = try await client.json(.post, setup.rulesPath(main), token, body)
                #expect(reply.status == .created, "\(body) → \(reply.text)")
                ids.append(try #require(reply.object["id"] as? Int64))
            }
            let rules = try await client.get(setup.rulesPath(main), token: token).array
            #expect(rules.map { $0["id"] as? Int64 } == ids)
            #expect(rules.map { $0["position"] as? Int } == Array(1...8))
            #expect(rules[0]["sound_type"] as? String == "foreground")
            #expect(rules[0]["caller_id"] as? String == "^\\+49")
            #expect(rules[1]["caller_id"] is NSNull)
            #expect(rules[2]["record_digits_sound"] as? Int == 0)
            #expect(rules[3]["call_interactive_method"] as? String == "POST")
            #expect(rules[4]["sound"] as? Int == 0 && rules[4]["max_rate"] as? Int == 5)
            #expect(rules[5]["context_option"] as? String == "#")
            #expect(rules[7].keys.sorted() == ["action", "caller_id", "caller_id_action", "did", "id", "position"])

            // Move the hangup first, then turn the transfer into a rating and move it last.
            let moved = try await client.json(.put, setup.rulesPath(main) + "\(ids[7])", token, #"{"position": 1}"#)
            #expect(moved.status == .ok, "\(moved.text)")
            let changed = try await client.json(
                .put, setup.rulesPath(main) + "\(ids[6])", token, #"{"action": "quality_rate", "max_rate": 9, "position": 8}"#)
            #expect(changed.status == .ok, "\(changed.text)")
            #expect(changed.object["transfer_dst"] == nil)
            let reordered = try await client.get(setup.rulesPath(main), token: token).array
            #expect(reordered.map { $0["id"] as? Int64 } == [ids[7]] + ids[0...5] + [ids[6]])
            #expect(reordered.map { $0["position"] as? Int } == Array(1...8))
            #expect(try await client.get(setup.rulesPath(main) + "\(ids[6])", token: token).object["max_rate"] as? Int == 9)

            // A new caller_id_action drops the old caller_id; the action keeps its parameters.
            let unfiltered = try await client.json(.put, setup.rulesPath(main) + "\(ids[0])", token, #"{"caller_id_action": "any"}"#)
            #expect(unfiltered.object["caller_id"] is NSNull, "\(unfiltered.text)")
            #expect(unfiltered.object["sound"] as? Int64 == sound)
            #expect(unfiltered.object["did"] as? String == "4930555")

            // Options: the three built-ins always, then those with rules; `#` travels as %23.
            _ = try await client.json(.post, setup.rulesPath(rating, "12%23"), token, #"{"action": "hangup"}"#)
            let options = try await client.get(setup.base + "context/\(rating)/options/", token: token).array
            #expect(options.map { $0["option_digits"] as? String } == ["start", "timeout", "invalid", "12#"])
            #expect(options.map { $0["rule_count"] as? Int } == [0, 0, 0, 1])
            #expect(try await client.get(setup.base + "context/\(main)/options/", token: token).array.first?["rule_count"] as? Int == 8)

            #expect(try await client.send(.delete, setup.rulesPath(main) + "\(ids[0])", token: token).status == .noContent)
            try await client.get(setup.rulesPath(main) + "\(ids[0])", token: token).expectError(.notFound, code: "not_found")
            #expect(try await client.get(setup.rulesPath(main), token: token).array.map { $0["position"] as? Int } == Array(1...7))
            // A rule is reached only through its own option.
            try await client.get(setup.rulesPath(main, "timeout") + "\(ids[1])", token: token).expectError(.notFound, code: "not_found")
            for option in ["12a", "%2531", "start1", String(repeating: "1", count: 21)] {
                try await client.get(setup.rulesPath(main, option), token: token)
                    .expectError(.badRequest, code: "invalid_parameter", mentioning: "option_digits")
            }
        }
    }

    /// A rating rule's `finish_sound`: 0 (the default) is the built-in "thank you", as a queue's
    /// `quality_rate_finish_sound` (SPEC §4.1); null is none, and stays none through a PUT.
    @Test func aRatingRuleSaysThankYouUnlessItsFinishSoundIsNull() async throws {
        let setup = try await Setup()
        try await setup.fixture.withServer { client in
            let token = try await client.token(setup.fixture.acme)
            let main = try #require(try await client.json(.post, setup.base + "context/", token, #"{"name": "main"}"#).object["id"] as? Int64)
            let thanking = try await client.json(.post, setup.rulesPath(main), token, #"{"action": "quality_rate", "max_rate": 5}"#)
            #expect(thanking.status == .created, "\(thanking.text)")
            #expect(thanking.object["finish_sound"] as? Int == 0)
            let silent = try await client.json(
                .post, setup.rulesPath(main), token, #"{"action": "quality_rate", "max_rate": 5, "finish_sound": null}"#)
            #expect(silent.status == .created, "\(silent.text)")
            #expect(silent.object["finish_sound"] is NSNull)
            let rule = setup.rulesPath(main) + "\(try #require(silent.object["id"] as? Int64))"
            #expect(try await client.json(.put, rule, token, #"{"max_rate": 9}"#).object["finish_sound"] is NSNull)
            #expect(try await client.get(rule, token: token).object["finish_sound"] is NSNull)
            #expect(try await client.json(.put, rule, token, #"{"finish_sound": 0}"#).object["finish_sound"] as? Int == 0)
            #expect(try await client.json(.put, rule, token, #"{"finish_sound": null}"#).object["finish_sound"] is NSNull)
            try await client.json(.put, rule, token, #"{"finish_sound": "none"}"#)
                .expectError(.badRequest, code: "invalid_parameter", mentioning: "finish_sound")
        }
    }

    @Test func invalidRulesAnswerTheFieldAndChangeNothing() async throws {
        let setup = try await Setup()
        let ownSound = try await setup.sound(setup.fixture.acme)
        let theirSound = try await setup.sound(setup.fixture.other)
        let theirContext = try await setup.fixture.store.createIVRContext(
            clientID: setup.fixture.other.clientID, ivrID: setup.theirIVR.id, IVRContext.Settings(name: "main"))
        try await setup.fixture.withServer { client in
            let token = try await client.token(setup.fixture.acme)
            let main = try #require(try await client.json(.post, setup.base + "context/", token, #"{"name": "main"}"#).object["id"] as? Int64)
            let existing = try await client.json(.post, setup.rulesPath(main), token, #"{"action": "quality_rate", "max_rate": 5}"#)
            let ruleID = try #require(existing.object["id"] as? Int64)
            let before = try await client.get(setup.rulesPath(main), token: token).text

            let refused: [(String, HTTPResponse.Status, String)] = [
                (#"{"action": "quality_rate", "max_rate": 0}"#, .unprocessableContent, "max_rate"),
                (#"{"action": "quality_rate", "max_rate": 10}"#, .unprocessableContent, "max_rate"),
                (#"{"action": "quality_rate"}"#, .unprocessableContent, "max_rate"),
                (#"{"action": "quality_rate", "max_rate": 5, "sound": 4242}"#, .unprocessableContent, "sound"),
                (#"{"action": "quality_rate", "max_rate": 5, "finish_sound": \#(theirSound)}"#, .unprocessableContent, "finish_sound"),
                (#"{"action": "play_sound", "sound": \#(theirSound)}"#, .unprocessableContent, "sound"),
                (#"{"action": "play_sound", "sound": 0}"#, .unprocessableContent, "sound"),
                (#"{"action": "play_sound", "sound": \#(ownSound), "sound_type": "loud"}"#, .unprocessableContent, "sound_type"),
                (#"{"action": "voice_helper"}"#, .badRequest, "quality_rate"),
                (#"{"max_rate": 5}"#, .badRequest, "action"),
                (#"{"action": "hangup", "transfer_dst": "100"}"#, .badRequest, "transfer_dst"),
                (#"{"action": "transfer", "transfer_dst": "4711"}"#, .unprocessableContent, "transfer_dst"),
                (#"{"action": "transfer", "transfer_dst": "555"}"#, .unprocessableContent, "transfer_dst"),
                (#"{"action": "jump_to_context", "context": \#(theirContext.id)}"#, .unprocessableContent, "context"),
                (#"{"action": "jump_to_context", "context": \#(main), "context_option": "9x"}"#, .unprocessableContent, "context_option"),
                (#"{"action": "hangup", "did": "49(30"}"#, .unprocessableContent, "did"),
                (#"{"action": "hangup", "caller_id": "[0-9", "caller_id_action": "matches"}"#, .unprocessableContent, "caller_id"),
                (#"{"action": "hangup", "caller_id_action": "not_matches"}"#, .unprocessableContent, "caller_id"),
                (#"{"action": "hangup", "caller_id_action": "sometimes"}"#, .unprocessableContent, "caller_id_action"),
                (#"{"action": "set_variable", "set_variable_name": "1st"}"#, .unprocessableContent, "set_variable_name"),
                (#"{"action": "record_digits", "record_digits_variable": "a", "record_digits_max": 21}"#, .unprocessableContent, "record_digits_max"),
                (#"{"action": "call_interactive", "call_interactive_url": "ftp://crm.example"}"#, .unprocessableContent, "call_interactive_url"),
                (#"{"action": "call_interactive", "call_interactive_url": "http://x", "call_interactive_method": "PUT"}"#, .unprocessableContent, "call_interactive_method"),
                (#"{"action": "hangup", "position": 3}"#, .unprocessableContent, "position"),
                (#"{"action": "hangup", "position": "1"}"#, .badRequest, "position"),
                (#"{"action": "hangup", "colour": "red"}"#, .badRequest, "colour"),
            ]
            for (body, status, field) in refused {
                let reply = try await client.json(.post, setup.rulesPath(main), token, body)
                reply.expectError(status, code: status == .badRequest ? "invalid_parameter" : "invalid_value", mentioning: field)
            }
            for (body, status, field) in [
                (#"{"max_rate": 12}"#, HTTPResponse.Status.unprocessableContent, "max_rate"),
                (#"{"action": "transfer"}"#, .unprocessableContent, "transfer_dst"),
                (#"{"position": 2}"#, .unprocessableContent, "position"),
                (#"{"sound_type": "background"}"#, .badRequest, "sound_type"),
            ] {
                let reply = try await client.json(.put, setup.rulesPath(main) + "\(ruleID)", token, body)
                reply.expectError(status, code: status == .badRequest ? "invalid_parameter" : "invalid_value", mentioning: field)
            }
            try await client.send(.post, setup.rulesPath(main), token: token, body: "{", contentType: "application/json")
                .expectError(.badRequest, code: "invalid_parameter", mentioning: "body")
            #expect(try await client.get(setup.rulesPath(main), token: token).text == before)
        }
    }

    @Test func anotherClientsIVRAndOtherExtensionTypesAnswer404() async throws {
        let setup = try await Setup()
        let theirContext = try await setup.fixture.store.createIVRContext(
            clientID: setup.fixture.other.clientID, ivrID: setup.theirIVR.id, IVRContext.Settings(name: "secret-menu"))
        let theirRule = try await setup.fixture.store.createIVRRule(
            clientID: setup.fixture.other.clientID, ivrID: setup.theirIVR.id, contextID: theirContext.id, option: "start",
            position: nil, IVRRuleDefinition(action: .hangup))
        try await setup.fixture.withServer { client in
            let token = try await client.token(setup.fixture.acme)
            let theirs = "/api/ver1.0/extension/\(setup.theirIVR.id)/ivr/"
            let theirRules = theirs + "context/\(theirContext.id)/options/start/rules/"
            for path in [theirs, theirs + "context/", theirs + "context/\(theirContext.id)", theirs + "context/\(theirContext.id)/options/",
                         theirRules, theirRules + "\(theirRule.id)"] {
                let reply = try await client.get(path, token: token)
                reply.expectError(.notFound, code: "not_found")
                #expect(!reply.text.contains("secret-menu"))
            }
            try await client.json(.put, theirs, token, #"{"lifetime": 5}"#).expectError(.notFound, code: "not_found")
            try await client.json(.post, theirs + "context/", token, #"{"name": "mine"}"#).expectError(.notFound, code: "not_found")
            try await client.json(.post, theirRules, token, #"{"action": "hangup"}"#).expectError(.notFound, code: "not_found")
            try await client.send(.delete, theirs + "context/\(theirContext.id)", token: token).expectError(.notFound, code: "not_found")
            // Their context through our IVR's path is not ours either.
            try await client.get(setup.base + "context/\(theirContext.id)", token: token).expectError(.notFound, code: "not_found")
            try await client.send(.delete, setup.rulesPath(theirContext.id) + "\(theirRule.id)", token: token)
                .expectError(.notFound, code: "not_found")

            let phone = "/api/ver1.0/extension/\(setup.phone.id)/ivr/"
            try await client.get(phone, token: token).expectError(.notFound, code: "not_found", mentioning: "phone")
            try await client.json(.post, phone + "context/", token, #"{"name": "main"}"#).expectError(.notFound, code: "not_found")
            try await client.get("/api/ver1.0/extension/abc/ivr/", token: token)
                .expectError(.badRequest, code: "invalid_parameter", mentioning: "extension_id")
            #expect(try await client.send(.patch, setup.base, token: token).status == .methodNotAllowed)
        }
        let configuration = try await setup.fixture.store.ivrConfiguration(clientID: setup.fixture.other.clientID, ivrID: setup.theirIVR.id)
        #expect(configuration?.contexts.map(\.context.settings.name) == ["secret-menu"])
        #expect(configuration?.contexts.first?.rulesByOption["start"]?.count == 1)
        #expect(configuration?.options.entryContext == theirContext.id)
    }

    @Test func aCallAPITokenReadsButCannotChangeAVoiceMenu() async throws {
        let setup = try await Setup()
        let context = try await setup.fixture.store.createIVRContext(
            clientID: setup.fixture.acme.clientID, ivrID: setup.ivr.id, IVRContext.Settings(name: "main"))
        let rule = try await setup.fixture.store.createIVRRule(
            clientID: setup.fixture.acme.clientID, ivrID: setup.ivr.id, contextID: context.id, option: "start", position: nil,
            IVRRuleDefinition(action: .hangup))
        let admin = try #require(try await setup.fixture.store.user(username: setup.fixture.acme.username))
        let readOnly = try await Provisioning(store: setup.fixture.store).registerApplication(
            userID: admin.id, name: "reports", type: .trusted, access: .callAPI)
        try await setup.fixture.withServer { client in
            let token = try await client.token(appID: readOnly.appID, secret: readOnly.appSecret)
            let rules = setup.rulesPath(context.id)
            for path in [setup.base, setup.base + "context/", setup.contextPath(context.id), setup.base + "context/\(context.id)/options/",
                         rules, rules + "\(rule.id)"] {
                #expect(try await client.get(path, token: token).status == .ok, "\(path)")
            }
            for (method, path, body) in [
                (HTTPRequest.Method.put, setup.base, #"{"lifetime": 5}"#),
                (.post, setup.base + "context/", #"{"name": "other"}"#),
                (.put, setup.contextPath(context.id), #"{"name": "renamed"}"#),
                (.delete, setup.contextPath(context.id), ""),
                (.post, rules, #"{"action": "hangup"}"#),
                (.put, rules + "\(rule.id)", #"{"action": "hangup"}"#),
                (.delete, rules + "\(rule.id)", ""),
            ] {
                try await client.json(method, path, token, body).expectError(.forbidden, code: "insufficient_access")
            }
        }
        let configuration = try #require(try await setup.fixture.store.ivrConfiguration(clientID: setup.fixture.acme.clientID, ivrID: setup.ivr.id))
        #expect(configuration.options.lifetime == 0)
        #expect(configuration.contexts.map(\.context) == [context])
        #expect(configuration.contexts[0].rulesByOption == ["start": [rule]])
    }
}

extension APIFixture.Client {
    fileprivate func json(_ method: HTTPRequest.Method, _ path: String, _ token: String, _ body: String) async throws -> APIFixture.Reply {
        try await send(method, path, token: token, body: body.isEmpty ? nil : body, contentType: body.isEmpty ? nil : "application/json")
    }
}

extension APIFixture.Reply {
    fileprivate func expectSuccess(sourceLocation: SourceLocation = #_sourceLocation) {
        #expect((200..<300).contains(status.code), "\(text)", sourceLocation: sourceLocation)
    }
}
