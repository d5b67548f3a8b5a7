import Hummingbird

/// The OpenAPI 3.1 description of every route, served at /api/ver1.0/openapi.json: the file
/// `Resources/openapi.json`, the API's one description, edited by hand (tools/check_openapi.py
/// validates it; OpenAPIDocumentTests checks it names exactly the routes the router answers).
enum OpenAPIDocument {
    static let json = String(decoding: PackageResources.openapi_json, as: UTF8.self)
}

/// The interactive API browser served at /api/browser: `Resources/api-browser.html`, one
/// self-contained page (inline CSS and JS, no external resources) that gets a token, lists the
/// operations of /api/ver1.0/openapi.json, and sends requests with the parameters a person types in.
enum APIBrowserPage {
    static let html = String(decoding: PackageResources.api_browser_html, as: UTF8.self)
}

/// The supervisor dashboard served at /dashboard (issue 10): `Resources/dashboard.html`, one
/// self-contained page (inline CSS, JS and hand-written SVG charts) that signs in at /oauth/token,
/// shows a period's statistics and low ratings, and follows `…/quality_rate/events` live.
enum DashboardPage {
    static let html = String(decoding: PackageResources.dashboard_html, as: UTF8.self)
}

extension Response {
    /// One of the embedded pages.
    static func page(_ html: String) -> Response {
        Response(
            status: .ok, headers: [.contentType: "text/html; charset=utf-8"], body: ResponseBody(byteBuffer: ByteBuffer(string: html)))
    }
}
