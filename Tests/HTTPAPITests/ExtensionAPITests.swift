import Access
import Domain
import Foundation
import HTTPTypes
import Storage
import Testing

extension APIFixture.Client {
    /// A configuration write with a JSON body.
    func sendJSON(_ method: HTTPRequest.Method, _ path: String, token: String, _ body: String) async throws -> APIFixture.Reply {
        try await send(method, path, token: token, body: body, contentType: "application/json")
    }
}

extension APIFixture {
    /// An extension stored directly, as configuration made earlier.
    func addExtension(_ client: ProvisionedClient, _ name: String, _ kind: Extension.Kind) async throws -> Extension {
        try await store.createExtension(
            NewExtension(clientID: client.clientID, name: name, kind: kind, label: ""), status: .active, credentials: nil)
    }

    /// A token of a `call_api` application of acme: it may read but not change configuration.
    func callAPIToken(_ client: Client) async throws -> String {
        let admin = try #require(try await store.user(username: acme.username))
        let app = try await Provisioning(store: store).registerApplication(
            userID: admin.id, name: "wallboard", type: .trusted, access: .callAPI)
        return try await client.token(appID: app.appID, secret: app.appSecret)
    }
}

@Suite struct ExtensionAPITests {
    @Test func createsListsShowsChangesAndDeletesExtensions() async throws {
        let fixture = try await APIFixture(acmeTimeZone: "Asia/Tokyo")
        let domain = try #require(try await fixture.store.client(id: fixture.acme.clientID)).domain
        try await fixture.withServer { client in
            let token = try await client.token(fixture.acme)
            let base = "/api/ver1.0/client/\(fixture.acme.clientID)/extension/"
            let phone = try await client.sendJSON(.post, base, token: token, #"{"name":"101","type":"phone","label":"Anna","password":"s3cret-pass"}"#)
            #expect(phone.status == .created, "\(phone.text)")
            #expect(Set(phone.object.keys) == ["id", "client_id", "name", "type", "label", "status", "domain", "create_date"])
            #expect(phone.object["name"] as? String == "101")
            #expect(phone.object["type"] as? String == "phone")
            #expect(phone.object["label"] as? String == "Anna")
            #expect(phone.object["status"] as? String == "active")
            #expect(phone.object["domain"] as? String == domain)
            #expect(phone.object["client_id"] as? Int64 == fixture.acme.clientID)
            let created = try #require(phone.object["create_date"] as? String)
            #expect(LocalDateTime(parsing: created) != nil)
            let phoneID = try #require(phone.object["id"] as? Int64)

            let queue = try await client.sendJSON(.post, base, token: token, #"{"name":"200","type":"queue","status":"disabled"}"#)
            #expect(queue.status == .created)
            #expect(queue.object["label"] as? String == "")
            #expect(queue.object["status"] as? String == "disabled")
            let ivr = try await client.sendJSON(.post, base, token: token, #"{"name":"099","type":"ivr"}"#)
            #expect(ivr.status == .created)

            let list = try await client.get(base, token: token).array
            #expect(list.map { $0["name"] as? String } == ["101", "200", "099"])
            #expect(!list.contains { $0["password"] != nil })
            let shown = try await client.get(base + "\(phoneID)", token: token)
            #expect(shown.status == .ok)
            #expect(shown.object["label"] as? String == "Anna")
            #expect(shown.object["password"] == nil)

            let changed = try await client.sendJSON(.put, base + "\(phoneID)", token: token, #"{"name":"101","label":"Anna K.","status":"disabled"}"#)
            #expect(changed.status == .ok, "\(changed.text)")
            #expect(changed.object["label"] as? String == "Anna K.")
            #expect(changed.object["status"] as? String == "disabled")
            #expect(changed.object["create_date"] as? String == created)
            #expect(try await client.get(base + "\(phoneID)", token: token).object["label"] as? String == "Anna K.")

            let deleted = try await client.send(.delete, base + "\(phoneID)", token: token)
            #expect(deleted.status == .noContent)
            try await client.get(base + "\(phoneID)", token: token).expectError(.notFound, code: "not_found")
            try await client.send(.delete, base + "\(phoneID)", token: token).expectError(.notFound, code: "not_found")
        }
    }

    @Test func storesOnlyTheDigestHashesOfAPhonesPassword() async throws {
        let fixture = try await APIFixture()
        let domain = try #require(try await fixture.store.client(id: fixture.acme.clientID)).domain
        try await fixture.withServer { client in
            let token = try await client.token(fixture.acme)
            let base = "/api/ver1.0/client/\(fixture.acme.clientID)/extension/"
            let phone = try await client.sendJSON(.post, base, token: token, #"{"name":"101","type":"phone","password":"first-pass"}"#)
            let id = try #require(phone.object["id"] as? Int64)
            #expect(!phone.text.contains("first-pass"))
            let stored = try await fixture.store.sipCredentials(clientID: fixture.acme.clientID, extensionID: id)
            #expect(stored == SIPDigest.ha1(username: "101", realm: domain, password: "first-pass"))
            let changed = try await client.sendJSON(.put, base + "\(id)", token: token, #"{"password":"second-pass"}"#)
            #expect(changed.status == .ok)
            #expect(changed.object["password"] == nil)
            let restored = try await fixture.store.sipCredentials(clientID: fixture.acme.clientID, extensionID: id)
            #expect(restored == SIPDigest.ha1(username: "101", realm: domain, password: "second-pass"))
        }
    }

    @Test func computesHA1AsRFC7616Describes() {
        // RFC 7616 §3.9.1's example user, realm and password.
        let credentials = SIPDigest.ha1(username: "Mufasa", realm: "http-auth@example.org", password: "Circle of Life")
        // Expected values from Python's hashlib over "Mufasa:http-auth@example.org:Circle of Life".
        #expect(credentials.ha1MD5 == "3d78807defe7de2157e2b0b6573a855f")
        #expect(credentials.ha1SHA256 == "7987c64c30e25f1b74be53f966b49b90f2808aa92faf9a00262392d7b4794232")
    }

    @Test func refusesInvalidExtensionsAndChangesNothing() async throws {
        let fixture = try await APIFixture()
        try await fixture.withServer { client in
            let token = try await client.token(fixture.acme)
            let base = "/api/ver1.0/client/\(fixture.acme.clientID)/extension/"
            let queue = try await client.sendJSON(.post, base, token: token, #"{"name":"200","type":"queue","label":"Sales"}"#)
            let queueID = try #require(queue.object["id"] as? Int64)
            let refusals: [(String, HTTPResponse.Status, String, String)] = [
                (#"{"name":"200","type":"phone","password":"long-enough"}"#, .conflict, "conflict", "name"),
                (#"{"name":"12a","type":"queue"}"#, .unprocessableContent, "invalid_value", "name"),
                (#"{"name":"1234567890123456","type":"queue"}"#, .unprocessableContent, "invalid_value", "name"),
                (#"{"type":"queue"}"#, .unprocessableContent, "invalid_value", "name"),
                (#"{"name":"300"}"#, .unprocessableContent, "invalid_value", "type"),
                (#"{"name":"300","type":"fax"}"#, .unprocessableContent, "invalid_value", "type"),
                (#"{"name":"300","type":"phone"}"#, .unprocessableContent, "invalid_value", "password"),
                (#"{"name":"300","type":"phone","password":"short"}"#, .unprocessableContent, "invalid_value", "password"),
                (#"{"name":"300","type":"phone","password":"with space"}"#, .unprocessableContent, "invalid_value", "password"),
                (#"{"name":"300","type":"queue","password":"long-enough"}"#, .unprocessableContent, "invalid_value", "password"),
                (#"{"name":"300","type":"queue","status":"paused"}"#, .unprocessableContent, "invalid_value", "status"),
                (#"{"name":300,"type":"queue"}"#, .badRequest, "invalid_parameter", "name"),
                (#"{"name":"300","type":"queue","colour":"red"}"#, .badRequest, "invalid_parameter", "colour"),
            ]
            for (body, status, code, field) in refusals {
                try await client.sendJSON(.post, base, token: token, body).expectError(status, code: code, mentioning: field)
            }
            let edits: [(String, String)] = [
                (#"{"name":"201"}"#, "name"), (#"{"type":"ivr"}"#, "type"), (#"{"password":"long-enough"}"#, "password"),
                (#"{"label":"Support","status":"gone"}"#, "status"),
            ]
            for (body, field) in edits {
                try await client.sendJSON(.put, base + "\(queueID)", token: token, body)
                    .expectError(.unprocessableContent, code: "invalid_value", mentioning: field)
            }
            let list = try await client.get(base, token: token).array
            #expect(list.count == 1)
            #expect(list.first?["name"] as? String == "200")
            #expect(list.first?["label"] as? String == "Sales")
            #expect(list.first?["status"] as? String == "active")
        }
    }

    @Test func refusesToDeleteAnExtensionInUseAndSaysWhatUsesIt() async throws {
        let fixture = try await APIFixture()
        try await fixture.withServer { client in
            let token = try await client.token(fixture.acme)
            let base = "/api/ver1.0/client/\(fixture.acme.clientID)/extension/"
            let queueID = try #require(try await client.sendJSON(.post, base, token: token, #"{"name":"200","type":"queue"}"#).object["id"] as? Int64)
            let phoneID = try #require(
                try await client.sendJSON(.post, base, token: token, #"{"name":"101","type":"phone","password":"long-enough"}"#).object["id"] as? Int64)
            let ivrID = try #require(try await client.sendJSON(.post, base, token: token, #"{"name":"099","type":"ivr"}"#).object["id"] as? Int64)
            let didPath = "/api/ver1.0/client/\(fixture.acme.clientID)/did/"
            #expect(try await client.sendJSON(.post, didPath, token: token, #"{"name":"4930555","extension_id":\#(queueID)}"#).status == .created)
            let queuePath = "/api/ver1.0/extension/\(queueID)/queue/"
            #expect(try await client.sendJSON(.post, queuePath + "agent/", token: token, #"{"extension_id":\#(phoneID)}"#).status == .created)
            #expect(try await client.sendJSON(.put, queuePath, token: token, #"{"agent_hangup_action":"transfer","agent_hangup_transfer_dst":"099"}"#).status == .ok)

            try await client.send(.delete, base + "\(queueID)", token: token).expectError(.conflict, code: "conflict", mentioning: "DID 4930555")
            try await client.send(.delete, base + "\(phoneID)", token: token).expectError(.conflict, code: "conflict", mentioning: "queue 200")
            try await client.send(.delete, base + "\(ivrID)", token: token)
                .expectError(.conflict, code: "conflict", mentioning: "queue 200 (as its transfer destination)")
            #expect(try await client.get(base, token: token).array.count == 3)
        }
    }

    @Test func refusesToDeleteWhatAVoiceMenuStillTransfersTo() async throws {
        let fixture = try await APIFixture()
        try await fixture.withServer { client in
            let token = try await client.token(fixture.acme)
            let base = "/api/ver1.0/client/\(fixture.acme.clientID)/extension/"
            let queueID = try #require(try await client.sendJSON(.post, base, token: token, #"{"name":"200","type":"queue"}"#).object["id"] as? Int64)
            let didPath = "/api/ver1.0/client/\(fixture.acme.clientID)/did/"
            let didID = try #require(try await client.sendJSON(.post, didPath, token: token, #"{"name":"4930555"}"#).object["id"] as? Int64)
            let menu = try await fixture.addExtension(fixture.acme, "099", .ivr)
            let context = try await fixture.store.createIVRContext(clientID: fixture.acme.clientID, ivrID: menu.id, .init(name: "main"))
            let toQueue = try await fixture.store.createIVRRule(
                clientID: fixture.acme.clientID, ivrID: menu.id, contextID: context.id, option: "start", position: nil,
                IVRRuleDefinition(action: .transfer(destination: "200")))
            let toDID = try await fixture.store.createIVRRule(
                clientID: fixture.acme.clientID, ivrID: menu.id, contextID: context.id, option: "start", position: nil,
                IVRRuleDefinition(action: .transfer(destination: "4930555")))

            try await client.send(.delete, base + "\(queueID)", token: token)
                .expectError(.conflict, code: "conflict", mentioning: "IVR 099 rule \(toQueue.id) (transfer_dst)")
            try await client.send(.delete, didPath + "\(didID)", token: token)
                .expectError(.conflict, code: "conflict", mentioning: "IVR 099 rule \(toDID.id) (transfer_dst)")
            #expect(try await client.get(base, token: token).array.count == 2)
            #expect(try await client.get(didPath, token: token).array.count == 1)
        }
    }

    @Test func anotherClientsExtensionsAnswer404AndCallAPITokensMayOnlyRead() async throws {
        let fixture = try await APIFixture()
        let foreign = try await fixture.store.createExtension(
            NewExtension(clientID: fixture.other.clientID, name: "100", kind: .phone, label: "theirs"), status: .active, credentials: nil)
        try await fixture.withServer { client in
            let token = try await client.token(fixture.acme)
            let mine = "/api/ver1.0/client/\(fixture.acme.clientID)/extension/"
            let theirs = "/api/ver1.0/client/\(fixture.other.clientID)/extension/"
            try await client.get(theirs, token: token).expectError(.notFound, code: "not_found")
            try await client.sendJSON(.post, theirs, token: token, #"{"name":"300","type":"queue"}"#).expectError(.notFound, code: "not_found")
            for method in [HTTPRequest.Method.get, .delete] {
                let reply = try await client.send(method, mine + "\(foreign.id)", token: token)
                reply.expectError(.notFound, code: "not_found")
                #expect(!reply.text.contains("theirs"))
            }
            try await client.sendJSON(.put, mine + "\(foreign.id)", token: token, #"{"label":"x"}"#).expectError(.notFound, code: "not_found")
            #expect(try await fixture.store.ownedExtension(clientID: fixture.other.clientID, id: foreign.id) == foreign)

            let readOnly = try await fixture.callAPIToken(client)
            let queue = try await client.sendJSON(.post, mine, token: token, #"{"name":"200","type":"queue"}"#)
            let queueID = try #require(queue.object["id"] as? Int64)
            #expect(try await client.get(mine, token: readOnly).status == .ok)
            #expect(try await client.get(mine + "\(queueID)", token: readOnly).status == .ok)
            try await client.sendJSON(.post, mine, token: readOnly, #"{"name":"300","type":"queue"}"#)
                .expectError(.forbidden, code: "insufficient_access")
            try await client.sendJSON(.put, mine + "\(queueID)", token: readOnly, #"{"label":"x"}"#)
                .expectError(.forbidden, code: "insufficient_access")
            try await client.send(.delete, mine + "\(queueID)", token: readOnly).expectError(.forbidden, code: "insufficient_access")
            let list = try await client.get(mine, token: token).array
            #expect(list.count == 1)
            #expect(list.first?["label"] as? String == "")
        }
    }
}
