import Access
import Domain
import Foundation
import HTTPTypes
import Storage
import Testing

@Suite struct DIDAPITests {
    @Test func createsListsShowsChangesAndDeletesDIDs() async throws {
        let fixture = try await APIFixture(acmeTimeZone: "Europe/Berlin")
        let queue = try await fixture.addExtension(fixture.acme, "200", .queue)
        let ivr = try await fixture.addExtension(fixture.acme, "099", .ivr)
        try await fixture.withServer { client in
            let token = try await client.token(fixture.acme)
            let base = "/api/ver1.0/client/\(fixture.acme.clientID)/did/"
            let created = try await client.sendJSON(.post, base, token: token, #"{"name":"+4930555","extension_id":\#(queue.id),"comment":"main line"}"#)
            #expect(created.status == .created, "\(created.text)")
            #expect(Set(created.object.keys) == ["id", "client_id", "name", "extension_id", "comment", "create_date"])
            #expect(created.object["name"] as? String == "4930555")
            #expect(created.object["extension_id"] as? Int64 == queue.id)
            #expect(created.object["comment"] as? String == "main line")
            #expect(created.object["client_id"] as? Int64 == fixture.acme.clientID)
            #expect(LocalDateTime(parsing: created.object["create_date"] as? String ?? "") != nil)
            let id = try #require(created.object["id"] as? Int64)

            let unassigned = try await client.sendJSON(.post, base, token: token, #"{"name":"4930556"}"#)
            #expect(unassigned.status == .created)
            #expect(unassigned.object["extension_id"] is NSNull)
            #expect(unassigned.object["comment"] as? String == "")

            #expect(try await client.get(base, token: token).array.map { $0["name"] as? String } == ["4930555", "4930556"])
            #expect(try await client.get(base + "\(id)", token: token).object["comment"] as? String == "main line")

            let moved = try await client.sendJSON(.put, base + "\(id)", token: token, #"{"name":"+4930555","extension_id":\#(ivr.id)}"#)
            #expect(moved.status == .ok, "\(moved.text)")
            #expect(moved.object["extension_id"] as? Int64 == ivr.id)
            #expect(moved.object["comment"] as? String == "main line")
            let cleared = try await client.sendJSON(.put, base + "\(id)", token: token, #"{"extension_id":null,"comment":""}"#)
            #expect(cleared.object["extension_id"] is NSNull)
            #expect(try await fixture.store.did(number: "4930555")?.extensionID == nil)

            #expect(try await client.send(.delete, base + "\(id)", token: token).status == .noContent)
            try await client.get(base + "\(id)", token: token).expectError(.notFound, code: "not_found")
            #expect(try await fixture.store.did(number: "4930555") == nil)
        }
    }

    @Test func refusesInvalidDIDsAndChangesNothing() async throws {
        let fixture = try await APIFixture()
        let queue = try await fixture.addExtension(fixture.acme, "200", .queue)
        let foreign = try await fixture.addExtension(fixture.other, "300", .queue)
        _ = try await fixture.store.createDID(NewDID(clientID: fixture.other.clientID, number: "4940777", extensionID: nil, comment: ""))
        try await fixture.withServer { client in
            let token = try await client.token(fixture.acme)
            let base = "/api/ver1.0/client/\(fixture.acme.clientID)/did/"
            let did = try await client.sendJSON(.post, base, token: token, #"{"name":"4930555","extension_id":\#(queue.id),"comment":"main"}"#)
            let id = try #require(did.object["id"] as? Int64)
            let refusals: [(String, HTTPResponse.Status, String, String)] = [
                (#"{"name":"4930555"}"#, .conflict, "conflict", "name"),
                (#"{"name":"+4940777"}"#, .conflict, "conflict", "name"),
                (#"{"name":"12"}"#, .unprocessableContent, "invalid_value", "name"),
                (#"{"name":"49-30-555"}"#, .unprocessableContent, "invalid_value", "name"),
                (#"{"name":"123456789012345678901"}"#, .unprocessableContent, "invalid_value", "name"),
                (#"{"comment":"x"}"#, .unprocessableContent, "invalid_value", "name"),
                (#"{"name":"4930600","extension_id":\#(foreign.id)}"#, .unprocessableContent, "invalid_value", "extension_id"),
                (#"{"name":"4930600","extension_id":999999}"#, .unprocessableContent, "invalid_value", "extension_id"),
                (#"{"name":"4930600","comment":"\#(String(repeating: "x", count: 501))"}"#, .unprocessableContent, "invalid_value", "comment"),
                (#"{"name":"4930600","extension_id":"200"}"#, .badRequest, "invalid_parameter", "extension_id"),
                (#"{"name":"4930600","client_id":1}"#, .badRequest, "invalid_parameter", "client_id"),
            ]
            for (body, status, code, field) in refusals {
                try await client.sendJSON(.post, base, token: token, body).expectError(status, code: code, mentioning: field)
            }
            let edits: [(String, String)] = [
                (#"{"name":"4930556"}"#, "name"),
                (#"{"comment":"moved","extension_id":\#(foreign.id)}"#, "extension_id"),
                (#"{"extension_id":null,"comment":"\#(String(repeating: "x", count: 501))"}"#, "comment"),
            ]
            for (body, field) in edits {
                try await client.sendJSON(.put, base + "\(id)", token: token, body)
                    .expectError(.unprocessableContent, code: "invalid_value", mentioning: field)
            }
            let list = try await client.get(base, token: token).array
            #expect(list.count == 1)
            #expect(list.first?["extension_id"] as? Int64 == queue.id)
            #expect(list.first?["comment"] as? String == "main")
        }
    }

    @Test func refusesToDeleteADIDAQueueTransfersTo() async throws {
        let fixture = try await APIFixture()
        let queue = try await fixture.addExtension(fixture.acme, "200", .queue)
        let did = try await fixture.store.createDID(NewDID(clientID: fixture.acme.clientID, number: "4930555", extensionID: nil, comment: ""))
        try await fixture.store.updateQueueOptions(
            clientID: fixture.acme.clientID, queueID: queue.id, QueueOptions(noAgentTimeoutTransferDestination: "+4930555"))
        try await fixture.withServer { client in
            let token = try await client.token(fixture.acme)
            try await client.send(.delete, "/api/ver1.0/client/\(fixture.acme.clientID)/did/\(did.id)", token: token)
                .expectError(.conflict, code: "conflict", mentioning: "queue 200")
            #expect(try await fixture.store.did(number: "4930555") == did)
        }
    }

    @Test func anotherClientsDIDsAnswer404AndCallAPITokensMayOnlyRead() async throws {
        let fixture = try await APIFixture()
        let foreign = try await fixture.store.createDID(NewDID(clientID: fixture.other.clientID, number: "4940777", extensionID: nil, comment: "theirs"))
        let mine = try await fixture.store.createDID(NewDID(clientID: fixture.acme.clientID, number: "4930555", extensionID: nil, comment: "ours"))
        try await fixture.withServer { client in
            let token = try await client.token(fixture.acme)
            let base = "/api/ver1.0/client/\(fixture.acme.clientID)/did/"
            try await client.get("/api/ver1.0/client/\(fixture.other.clientID)/did/", token: token).expectError(.notFound, code: "not_found")
            let reply = try await client.get(base + "\(foreign.id)", token: token)
            reply.expectError(.notFound, code: "not_found")
            #expect(!reply.text.contains("theirs"))
            try await client.sendJSON(.put, base + "\(foreign.id)", token: token, #"{"comment":"x"}"#).expectError(.notFound, code: "not_found")
            try await client.send(.delete, base + "\(foreign.id)", token: token).expectError(.notFound, code: "not_found")
            #expect(try await fixture.store.did(number: "4940777") == foreign)

            let readOnly = try await fixture.callAPIToken(client)
            #expect(try await client.get(base, token: readOnly).array.count == 1)
            #expect(try await client.get(base + "\(mine.id)", token: readOnly).status == .ok)
            try await client.sendJSON(.post, base, token: readOnly, #"{"name":"4930600"}"#).expectError(.forbidden, code: "insufficient_access")
            try await client.sendJSON(.put, base + "\(mine.id)", token: readOnly, #"{"comment":"x"}"#)
                .expectError(.forbidden, code: "insufficient_access")
            try await client.send(.delete, base + "\(mine.id)", token: readOnly).expectError(.forbidden, code: "insufficient_access")
            #expect(try await fixture.store.dids(clientID: fixture.acme.clientID) == [mine])
        }
    }
}
