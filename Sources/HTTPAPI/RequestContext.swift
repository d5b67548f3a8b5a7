import Access
import Domain
public import Hummingbird
public import NIOCore
import Storage

/// The per-request context: Hummingbird's core storage plus the authenticated principal.
public struct APIRequestContext: RequestContext, RemoteAddressRequestContext {
    public var coreContext: CoreRequestContextStorage
    var principal: Principal?
    /// The client's address (nil in router tests): what bans after failed sign-ins count.
    public let remoteAddress: SocketAddress?

    public init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
        remoteAddress = source.channel.remoteAddress
    }

    /// JSON and form bodies are small; anything larger is refused with 413 before it is read.
    public var maxUploadSize: Int { 64 * 1024 }

    func requirePrincipal() throws -> Principal {
        guard let principal else { throw APIError.missingToken }
        return principal
    }

    /// The `client_id` of the path, checked against the token: another client's id answers 404,
    /// exactly like an id that does not exist, so ids of other tenants cannot be probed.
    func ownedClientID() throws -> Int64 {
        let principal = try requirePrincipal()
        let clientID = try pathID("client_id")
        guard clientID == principal.clientID else { throw APIError.notFound("client \(clientID)") }
        return clientID
    }

    /// The `extension_id` of the path as an extension of the token's client, of one of `kinds`:
    /// another client's extension answers 404 like an unknown one; one of another kind answers
    /// 404 too, saying what it is (a phone has no queue options).
    func ownedExtension(in store: any Store, kinds: Set<Extension.Kind> = Set(Extension.Kind.allCases)) async throws -> Extension {
        let principal = try requirePrincipal()
        let id = try pathID("extension_id")
        guard let found = try await store.ownedExtension(clientID: principal.clientID, id: id) else {
            throw APIError.notFound("extension \(id)")
        }
        guard kinds.contains(found.kind) else {
            let wanted = kinds.map(\.rawValue).sorted().joined(separator: " or ")
            throw APIError(
                status: .notFound, code: "not_found",
                description: "extension \(id) is a \(found.kind.rawValue), not a \(wanted): this resource does not exist for it")
        }
        return found
    }

    func pathID(_ name: String) throws -> Int64 {
        let raw = parameters.get(name) ?? ""
        guard let value = QueryParameters.digits(raw).flatMap({ Int64($0) }), value >= 1 else {
            throw APIError.badParameter(name, expected: "a positive integer id", got: raw)
        }
        return value
    }
}

/// Resolves `Authorization: Bearer …` to a principal for every route behind it.
struct AuthenticationMiddleware: RouterMiddleware {
    let accessControl: AccessControl

    func handle(
        _ request: Request, context: APIRequestContext, next: (Request, APIRequestContext) async throws -> Response
    ) async throws -> Response {
        guard let header = request.headers[.authorization] else { throw APIError.missingToken }
        let parts = header.split(separator: " ", maxSplits: 1, omittingEmptySubsequences: true)
        guard parts.count == 2, parts[0].lowercased() == "bearer" else { throw APIError.missingToken }
        guard let principal = try await accessControl.authenticate(bearer: String(parts[1])) else {
            throw APIError.invalidToken
        }
        var context = context
        context.principal = principal
        return try await next(request, context)
    }
}
