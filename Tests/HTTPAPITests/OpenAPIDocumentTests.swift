import Foundation
import HTTPAPI
import Hummingbird
import Prometheus
import Testing

/// `Sources/HTTPAPI/Resources/openapi.json` is the one description of the API (issue 10, point 6):
/// written by hand, embedded in the binary and served. Nothing generates it, so this test keeps it
/// and the router in step: every operation the router answers is documented, and every documented
/// operation is answered (HEAD, which every GET answers, is implied).
@Suite struct OpenAPIDocumentTests {
    @Test func documentsExactlyTheRoutesTheServerAnswers() async throws {
        let fixture = try await APIFixture()
        let router = APIServer.makeRouter(store: fixture.store, calls: nil, metrics: PrometheusCollectorRegistry())
        let answered = Set(router.routes.filter { $0.method != .head }.map { route in
            Self.operation(route.method.rawValue, "\(route.path)")
        })

        let served = try await Self.servedDocument(fixture)
        let document = try #require(try JSONSerialization.jsonObject(with: served) as? [String: Any])
        let paths = try #require(document["paths"] as? [String: [String: Any]])
        let methods: Set = ["get", "put", "post", "delete", "patch"]
        let documented = Set(paths.flatMap { path, item in
            item.keys.filter(methods.contains).map { Self.operation($0, path) }
        })

        #expect(answered.count >= 40 && answered.contains("GET /api/ver1.0/client/{*}/quality_rate"))
        #expect(answered.subtracting(documented).sorted() == [], "answered but not in openapi.json")
        #expect(documented.subtracting(answered).sorted() == [], "in openapi.json but not answered")
    }

    /// The document as the server serves it, so the test reads what clients read.
    private static func servedDocument(_ fixture: APIFixture) async throws -> Data {
        try await fixture.withServer { client in
            let response = try await client.get("/api/ver1.0/openapi.json", token: nil)
            #expect(response.status == .ok)
            return response.body
        }
    }

    /// `GET /api/ver1.0/client/{*}/quality_rate`: the router writes a parameter `{name}` or
    /// `:name` and ignores a trailing slash; the document ends collections with one.
    private static func operation(_ method: String, _ path: String) -> String {
        let segments = path.split(separator: "/").map { segment in
            segment.hasPrefix(":") || segment.hasPrefix("{") ? "{*}" : String(segment)
        }
        return method.uppercased() + " /" + segments.joined(separator: "/")
    }
}
