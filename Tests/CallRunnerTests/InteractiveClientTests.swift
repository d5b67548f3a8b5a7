import CallFlow
import CallRunner
import Foundation
import Hummingbird
import HummingbirdTesting
import Logging
import Testing

/// `call_interactive` against a real HTTP server on loopback.
@Suite struct InteractiveClientTests {
    /// Runs `body` with the base URL of a server whose routes answer as a customer's would.
    func withServer(_ body: @Sendable (String) async throws -> Void) async throws {
        let router = Router()
        router.get("steer") { request, _ -> Response in
            let tier = request.uri.queryParameters["tier"].map(String.init) ?? "none"
            let caller = request.uri.queryParameters["CallerIDNum"].map(String.init) ?? ""
            return xml(#"<Response><SetVar name="seen" value="\#(tier)/\#(caller)"/><Jump context="vip" option="1"/></Response>"#)
        }
        router.post("steer") { request, _ -> Response in
            let form = String(buffer: try await request.body.collect(upTo: 1 << 16))
            return xml("<Response><SetVar name=\"form\">\(form.contains("tier=gold") ? "ok" : "missing")</SetVar><Hangup/></Response>")
        }
        router.get("transfer") { _, _ in xml("<Response><Transfer>200</Transfer></Response>") }
        router.get("broken") { _, _ -> Response in Response(status: .internalServerError) }
        router.get("garbage") { _, _ in xml("this is not xml <<<") }
        router.get("slow") { _, _ -> Response in
            try await Task.sleep(for: .seconds(3))
            return xml("<Response><Hangup/></Response>")
        }
        let app = Application(router: router, configuration: .init(address: .hostname("127.0.0.1", port: 0)), logger: Logger(label: "interactive-test"))
        try await app.test(.live) { client in
            try await body("http://127.0.0.1:\(client.port!)")
        }
    }

    /// For the tests of what a reply does: a busy machine may take longer than the 5 s a call
    /// waits, and the time limit is `failuresAnswerNil`'s subject, not theirs.
    static let patientClient = HTTPInteractiveClient(timeout: .seconds(60))

    @Test func aGetReplyCanSetVariablesAndJump() async throws {
        try await withServer { base in
            let commands = await Self.patientClient.request(
                url: base + "/steer", method: .GET, parameters: ["tier": "gold", "CallerIDNum": "+4930111"])
            #expect(commands == [.setVariable(name: "seen", value: "gold/+4930111"), .jump(context: "vip", option: "1")])
        }
    }

    @Test func aPostSendsAFormAndCanHangUpOrTransfer() async throws {
        try await withServer { base in
            let posted = await Self.patientClient.request(url: base + "/steer", method: .POST, parameters: ["tier": "gold"])
            #expect(posted == [.setVariable(name: "form", value: "ok"), .hangup])
            let transfer = await Self.patientClient.request(url: base + "/transfer", method: .GET, parameters: [:])
            #expect(transfer == [.transfer(destination: "200")])
        }
    }

    @Test func failuresAnswerNil() async throws {
        try await withServer { base in
            let client = HTTPInteractiveClient(timeout: .milliseconds(500))
            #expect(await client.request(url: base + "/broken", method: .GET, parameters: [:]) == nil)
            #expect(await client.request(url: base + "/garbage", method: .GET, parameters: [:]) == nil)
            #expect(await client.request(url: base + "/slow", method: .GET, parameters: [:]) == nil)
            #expect(await client.request(url: "http://127.0.0.1:1/closed", method: .GET, parameters: [:]) == nil)
        }
    }
}

func xml(_ text: String) -> Response {
    Response(status: .ok, headers: [.contentType: "application/xml"], body: .init(byteBuffer: ByteBuffer(string: text)))
}
