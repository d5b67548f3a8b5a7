import Access
import CallRunner
import Domain
import Foundation
import HTTPAPI
import Hummingbird
import Logging
import HummingbirdTesting
import Prometheus
import Storage
import Testing
import TestSupport

/// A real server on loopback over a real SQLite file, with two clients ("acme" and "other"),
/// each with its admin user and `trusted`/`all` application.
struct APIFixture {
    let database: TestStore
    var store: any Store { database.store }
    let acme: ProvisionedClient
    let other: ProvisionedClient

    init(acmeTimeZone: String = "UTC") async throws {
        database = try await TestStore()
        let store = database.store
        let provisioning = Provisioning(store: store)
        acme = try await provisioning.createClient(name: "Acme", timezone: ClientTimeZone(identifier: acmeTimeZone)!, domain: nil)
        other = try await provisioning.createClient(name: "Other", timezone: .utc, domain: nil)
    }

    /// Simulated telephony for the calls the API starts, so a test can play the far side.
    let telephony = SimulatedTelephonyProvider()
    let timers = ManualTimerScheduler()

    var calls: CallCenter {
        let directory = StoreCallDirectory(store: store)
        return CallCenter(
            services: CallServices(
                store: store, directory: directory,
                queues: QueueRegistry(directory: directory, reachability: EveryAgentReachable(), state: store.queueState),
                interactive: HTTPInteractiveClient(), timers: timers, logger: Logger(label: "test")),
            telephony: telephony)
    }

    /// Runs `body` against the server listening on 127.0.0.1 (an ephemeral port); `calls` is
    /// where the API places its calls (nil: no telephony).
    func withServer<Value: Sendable>(
        calls: CallCenter? = nil, limits: HTTPLimits = HTTPLimits(), logger: Logger = Logger(label: "test"),
        _ body: @Sendable (Client) async throws -> Value
    ) async throws -> Value {
        let app = try APIServer.makeApplication(
            store: store, calls: calls, host: "127.0.0.1", port: 0, metrics: PrometheusCollectorRegistry(), limits: limits, logger: logger)
        return try await app.test(.live) { client in try await body(Client(http: client)) }
    }

    /// Stores ratings directly, as the call-flow engine will.
    @discardableResult
    func addRatings(_ client: ProvisionedClient, _ ratings: [(local: String, rate: Int64, agent: String?)], extensionID: Int64 = 50)
        async throws -> [Rating]
    {
        let zone = ClientTimeZone(identifier: try await store.client(id: client.clientID)!.timezone)!
        return try await store.insertRatings(ratings.map { entry in
            NewRating(
                clientID: client.clientID, callUUID: .random(),
                ratedAt: zone.instant(of: LocalDateTime(parsing: entry.local)!), extensionID: extensionID, rate: entry.rate,
                maxRate: 5, agentUsername: entry.agent)
        })
    }

    /// A client over real HTTP with the few helpers these tests need.
    struct Client: Sendable {
        let http: any TestClientProtocol

        func token(_ client: ProvisionedClient) async throws -> String {
            try await token(appID: client.appID, secret: client.appSecret)
        }

        func token(appID: String, secret: String) async throws -> String {
            let response = try await postForm("/oauth/token", ["grant_type": "client_credentials", "client_id": appID, "client_secret": secret])
            #expect(response.status == .ok)
            return try #require(response.object["access_token"] as? String)
        }

        func postForm(_ path: String, _ fields: [String: String]) async throws -> Reply {
            let body = fields.map { key, value in
                "\(key)=\(value.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? value)"
            }.joined(separator: "&")
            return try await send(.post, path, body: body, contentType: "application/x-www-form-urlencoded")
        }

        func get(_ path: String, token: String?, accept: String? = nil) async throws -> Reply {
            try await send(.get, path, token: token, accept: accept)
        }

        func send(
            _ method: HTTPRequest.Method, _ path: String, token: String? = nil, body: String? = nil, contentType: String? = nil,
            accept: String? = nil
        ) async throws -> Reply {
            var headers: HTTPFields = [:]
            if let token { headers[.authorization] = "Bearer \(token)" }
            if let accept { headers[.accept] = accept }
            if let contentType { headers[.contentType] = contentType }
            let response = try await http.execute(
                uri: path, method: method, headers: headers, body: body.map { ByteBuffer(string: $0) })
            return Reply(status: response.status, headers: response.headers, body: Data(response.body.readableBytesView))
        }
    }

    struct Reply: Sendable {
        let status: HTTPResponse.Status
        let headers: HTTPFields
        let body: Data

        var json: Any? { try? JSONSerialization.jsonObject(with: body) }
        var object: [String: Any] { json as? [String: Any] ?? [:] }
        var array: [[String: Any]] { json as? [[String: Any]] ?? [] }
        var text: String { String(decoding: body, as: UTF8.self) }

        /// The error shape of SPEC §6, with the description mentioning `mention`.
        func expectError(_ status: HTTPResponse.Status, code: String, mentioning mention: String? = nil,
                         sourceLocation: SourceLocation = #_sourceLocation) {
            #expect(self.status == status, "\(text)", sourceLocation: sourceLocation)
            #expect(object["error"] as? String == code, "\(text)", sourceLocation: sourceLocation)
            let description = object["error_description"] as? String ?? ""
            #expect(!description.isEmpty, sourceLocation: sourceLocation)
            if let mention { #expect(description.contains(mention), "\(description)", sourceLocation: sourceLocation) }
        }
    }
}
