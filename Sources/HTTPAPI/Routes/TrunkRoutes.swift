import Domain
import Hummingbird
import Storage

/// `/client/{client_id}/trunk/` and `…/trunk/{trunk_id}` (issue 11): the client's provider trunks,
/// where calls to outside numbers go. The password is write-only: answers say `has_password`.
struct TrunkRoutes {
    let store: any Store

    static let fields: Set<String> = [
        "name", "host", "port", "transport", "username", "password", "register", "register_expires", "from_domain",
        "prefixes", "position", "strip_digits", "add_prefix", "caller_id", "max_calls",
    ]
    static let nameLength = 1...64
    /// RFC 1035's longest name written with dots.
    static let hostLength = 253
    static let usernameLength = 64
    static let passwordLength = 128
    static let maxPrefixes = 50
    /// An outside number has at most 20 digits (`OutsideNumber`): a longer prefix matches nothing.
    static let prefixDigits = 1...20
    static let stripDigitsRange: ClosedRange<Int64> = 0...20
    static let addPrefixLength = 10
    /// Bounded so that "after the last trunk" (+1) cannot overflow, and far beyond any real list.
    static let positionRange: ClosedRange<Int64> = 0...1_000_000
    static let maxCallsRange: ClosedRange<Int64> = 0...1_000_000

    func register(on routes: inout RouteTable) {
        routes.get("client/:client_id/trunk", list)
        routes.post("client/:client_id/trunk", create)
        routes.get("client/:client_id/trunk/:trunk_id", show)
        routes.put("client/:client_id/trunk/:trunk_id", update)
        routes.delete("client/:client_id/trunk/:trunk_id", delete)
    }

    @Sendable func list(_ request: Request, context: APIRequestContext) async throws -> Response {
        let client = try await ConfigurationAPI.ownedClient(context, store)
        let zone = client.zone
        var json = JSONBytes()
        json.beginArray()
        for trunk in try await store.trunks(clientID: client.id) {
            json.trunk(trunk, zone: zone)
        }
        json.endArray()
        return .json(json)
    }

    @Sendable func show(_ request: Request, context: APIRequestContext) async throws -> Response {
        let client = try await ConfigurationAPI.ownedClient(context, store)
        return Self.response(try await owned(context, client: client), client: client)
    }

    @Sendable func create(_ request: Request, context: APIRequestContext) async throws -> Response {
        let client = try await ConfigurationAPI.ownedClient(context, store)
        try ConfigurationAPI.requireConfigurationAccess(context)
        let body = try await JSONFields(request, context, accepting: Self.fields, of: "a trunk")
        guard body.isPresent("name") else { throw APIError.invalidValue("name", "required: 1 to 64 characters, unique in the client") }
        guard body.isPresent("host") else { throw APIError.invalidValue("host", "required: the provider's host name or IP address") }
        let last = try await store.trunks(clientID: client.id).map(\.position).max()
        var trunk = Trunk(
            id: 0, clientID: client.id, name: "", host: "", port: Trunk.defaultPort, transport: .udp, username: "", password: "",
            register: false, registerExpires: Trunk.defaultRegisterExpires, fromDomain: "", prefixes: [],
            position: last.map { min($0 + 1, Int(Self.positionRange.upperBound)) } ?? 0, stripDigits: 0, addPrefix: "",
            callerID: nil, maxCalls: 0, status: .notRegistering, lastError: nil, createdAt: UnixTime(seconds: 0))
        try await apply(body, to: &trunk)
        let created: Trunk
        do {
            created = try await store.createTrunk(trunk)
        } catch StorageError.conflict {
            throw Self.nameTaken(trunk.name)
        }
        return Self.response(created, client: client, status: .created)
    }

    /// Only the fields given change; every field is checked, against the trunk as it will be,
    /// before anything is written.
    @Sendable func update(_ request: Request, context: APIRequestContext) async throws -> Response {
        let client = try await ConfigurationAPI.ownedClient(context, store)
        try ConfigurationAPI.requireConfigurationAccess(context)
        var trunk = try await owned(context, client: client)
        let body = try await JSONFields(request, context, accepting: Self.fields, of: "a trunk")
        try await apply(body, to: &trunk)
        let updated: Trunk
        do {
            updated = try await ConfigurationAPI.translatingStoreErrors { try await store.updateTrunk(trunk) }
        } catch StorageError.conflict {
            throw Self.nameTaken(trunk.name)
        }
        return Self.response(updated, client: client)
    }

    @Sendable func delete(_ request: Request, context: APIRequestContext) async throws -> Response {
        let client = try await ConfigurationAPI.ownedClient(context, store)
        try ConfigurationAPI.requireConfigurationAccess(context)
        let id = try context.pathID("trunk_id")
        try await ConfigurationAPI.translatingStoreErrors { try await store.deleteTrunk(clientID: client.id, id: id) }
        return Response(status: .noContent)
    }

    private func owned(_ context: APIRequestContext, client: Client) async throws -> Trunk {
        let id = try context.pathID("trunk_id")
        guard let found = try await store.trunk(clientID: client.id, id: id) else { throw APIError.notFound("trunk \(id)") }
        return found
    }

    private static func nameTaken(_ name: String) -> APIError {
        ConfigurationAPI.conflict("name", "the client already has a trunk named '\(APIError.printable(name))'")
    }

    /// Sets every field `body` gives, each checked; then the rules between fields.
    private func apply(_ body: JSONFields, to trunk: inout Trunk) async throws {
        if let name = try body.string("name", maxLength: Self.nameLength.upperBound) {
            guard Self.nameLength.contains(name.unicodeScalars.count), !name.containsControlCharacters else {
                throw APIError.invalidValue("name", "expected 1 to 64 characters without control characters")
            }
            trunk.name = name
        }
        if let host = try body.string("host") { trunk.host = try Self.host("host", host) }
        if let port = try body.integer("port", in: 1...65_535, expected: "a port 1 to 65535") { trunk.port = Int(port) }
        if let transport = try body.string("transport") { trunk.transport = try Self.transport(transport) }
        if let username = try body.string("username", maxLength: Self.usernameLength) {
            // What the account is written into: the user part of a SIP URI and a digest's quoted username.
            guard username.utf8.allSatisfy({ (0x21...0x7E).contains($0) && !Self.usernameExcluded.contains($0) }) else {
                throw APIError.invalidValue(
                    "username", "expected at most 64 printable ASCII characters without spaces, @, :, quotes, <, > or \\")
            }
            trunk.username = username
        }
        if let password = try body.string("password", maxLength: Self.passwordLength) { trunk.password = password }
        if let register = try body.boolean("register") { trunk.register = register }
        let expiresRange = Int64(Trunk.registerExpiresRange.lowerBound)...Int64(Trunk.registerExpiresRange.upperBound)
        if let expires = try body.integer("register_expires", in: expiresRange, expected: "60 to 86400 seconds") {
            trunk.registerExpires = Int(expires)
        }
        if let domain = try body.string("from_domain") { trunk.fromDomain = domain.isEmpty ? "" : try Self.host("from_domain", domain) }
        if let prefixes = try Self.prefixes(in: body) { trunk.prefixes = prefixes }
        if let position = try body.integer("position", in: Self.positionRange, expected: "0 to 1000000 (lower is tried first)") {
            trunk.position = Int(position)
        }
        if let strip = try body.integer("strip_digits", in: Self.stripDigitsRange, expected: "0 to 20 characters") {
            trunk.stripDigits = Int(strip)
        }
        if let prefix = try body.string("add_prefix", maxLength: Self.addPrefixLength) {
            guard Self.isDigits(prefix, allowingPlus: true, allowingEmpty: true) else {
                throw APIError.invalidValue("add_prefix", "expected digits with an optional leading +, at most 10 characters")
            }
            trunk.addPrefix = prefix
        }
        if body.isNull("caller_id") {
            trunk.callerID = nil
        } else if let callerID = try body.nullableString("caller_id") {
            trunk.callerID = try await clientDID(callerID, clientID: trunk.clientID)
        }
        if let calls = try body.integer("max_calls", in: Self.maxCallsRange, expected: "0 (unlimited) to 1000000 calls at once") {
            trunk.maxCalls = Int(calls)
        }
        if trunk.register, trunk.username.isEmpty {
            throw APIError.invalidValue("username", "required when register is true: the account this server registers at the provider")
        }
    }

    private static let usernameExcluded: Set<UInt8> = Set("@:\"'<>\\".utf8)

    /// A host name, an IPv4 address, or an IPv6 address with or without brackets, stored without
    /// them: the SIP layer brackets an address with a colon where it writes one (`Via.sentBy`).
    private static func host(_ field: String, _ text: String) throws -> String {
        let bracketed = text.hasPrefix("[") && text.hasSuffix("]")
        let bare = bracketed ? String(text.dropFirst().dropLast()) : text
        guard bare.utf8.count <= hostLength, bare.contains(":") ? isIPv6(bare) : !bracketed && isHostName(bare) else {
            throw APIError.invalidValue(
                field,
                "expected a host name (letters, digits and - in labels between dots) or an IP address, at most 253 characters, got '\(APIError.printable(text))'")
        }
        return bare
    }

    /// Labels of 1…63 letters, digits and `-` (not first or last) between dots; labels of digits
    /// alone are an IPv4 address.
    private static func isHostName(_ text: String) -> Bool {
        let labels = text.split(separator: ".", omittingEmptySubsequences: false)
        if labels.allSatisfy({ !$0.isEmpty && $0.utf8.allSatisfy(isASCIIDigit) }) { return isIPv4(text[...]) }
        return labels.allSatisfy { label in
            (1...63).contains(label.utf8.count) && label.first != "-" && label.last != "-"
                && label.utf8.allSatisfy { isASCIIDigit($0) || isASCIILetter($0) || $0 == UInt8(ascii: "-") }
        }
    }

    private static func isIPv4(_ text: Substring) -> Bool {
        let octets = text.split(separator: ".", omittingEmptySubsequences: false)
        return octets.count == 4 && octets.allSatisfy { octet in
            (1...3).contains(octet.utf8.count) && octet.utf8.allSatisfy(isASCIIDigit) && Int(octet).map { $0 <= 255 } == true
        }
    }

    /// Eight groups of 1…4 hex digits between colons, or fewer around one `::`; the last two
    /// groups may be written as an IPv4 address.
    private static func isIPv6(_ text: String) -> Bool {
        let halves = text.components(separatedBy: "::")
        guard halves.count <= 2 else { return false }
        /// How many 16-bit groups `part` holds; nil when it is not groups.
        func groups(_ part: String, endsAddress: Bool) -> Int? {
            guard !part.isEmpty else { return 0 }
            let pieces = part.split(separator: ":", omittingEmptySubsequences: false)
            var count = 0
            for (index, piece) in pieces.enumerated() {
                if endsAddress, index == pieces.count - 1, piece.contains(".") {
                    guard isIPv4(piece) else { return nil }
                    count += 2
                } else {
                    guard (1...4).contains(piece.utf8.count), piece.utf8.allSatisfy(isASCIIHexDigit) else { return nil }
                    count += 1
                }
            }
            return count
        }
        guard let head = groups(halves[0], endsAddress: halves.count == 1) else { return false }
        guard halves.count == 2 else { return head == 8 }
        guard let tail = groups(halves[1], endsAddress: true) else { return false }
        return head + tail < 8
    }

    private static func transport(_ text: String) throws -> Trunk.Transport {
        if text == "tls" {
            throw APIError.invalidValue("transport", "TLS toward providers is not supported yet; use udp or tcp")
        }
        guard let transport = Trunk.Transport(rawValue: text) else {
            throw APIError.invalidValue("transport", "expected udp or tcp, got '\(APIError.printable(text))'")
        }
        return transport
    }

    /// Strings only: a prefix sent as a JSON number would lose its leading zeros (`0049`).
    private static func prefixes(in body: JSONFields) throws -> [String]? {
        guard let value = body.values["prefixes"] else { return nil }
        guard let items = value as? [Any] else { throw APIError.badParameter("prefixes", "expected an array of strings") }
        let prefixes = items.compactMap { $0 as? String }
        guard prefixes.count == items.count else {
            throw APIError.badParameter("prefixes", "expected an array of strings (digits in quotes, so that leading zeros stay)")
        }
        guard prefixes.count <= maxPrefixes else {
            throw APIError.invalidValue("prefixes", "at most \(maxPrefixes) prefixes; [] carries every number")
        }
        for prefix in prefixes {
            let digits = prefix.hasPrefix("+") ? String(prefix.dropFirst()) : prefix
            guard prefixDigits.contains(digits.utf8.count), isDigits(digits, allowingPlus: false, allowingEmpty: false) else {
                throw APIError.invalidValue(
                    "prefixes", "expected 1 to 20 digits with an optional leading +, got '\(APIError.printable(prefix))'")
            }
        }
        return prefixes
    }

    private static func isDigits(_ text: String, allowingPlus: Bool, allowingEmpty: Bool) -> Bool {
        let digits = allowingPlus && text.hasPrefix("+") ? text.utf8.dropFirst() : text.utf8[...]
        return (allowingEmpty || !digits.isEmpty) && digits.allSatisfy(isASCIIDigit)
    }

    private static func isASCIIDigit(_ byte: UInt8) -> Bool { (0x30...0x39).contains(byte) }
    private static func isASCIILetter(_ byte: UInt8) -> Bool { (0x41...0x5A).contains(byte) || (0x61...0x7A).contains(byte) }
    private static func isASCIIHexDigit(_ byte: UInt8) -> Bool {
        isASCIIDigit(byte) || (0x41...0x46).contains(byte) || (0x61...0x66).contains(byte)
    }

    /// One of the client's DIDs, normalized as DIDs are stored.
    private func clientDID(_ text: String, clientID: Int64) async throws -> String {
        guard let number = DIDNumber.normalized(text), let did = try await store.did(number: number), did.clientID == clientID else {
            throw APIError.invalidValue(
                "caller_id", "'\(APIError.printable(text))' is not a DID of this client; use one of its DIDs, or null for none")
        }
        return did.number
    }

    private static func response(_ trunk: Trunk, client: Client, status: HTTPResponse.Status = .ok) -> Response {
        var json = JSONBytes()
        json.trunk(trunk, zone: client.zone)
        return .json(json, status: status)
    }
}

extension JSONBytes {
    /// A trunk as the API shows it: never its password, only whether it has one.
    mutating func trunk(_ trunk: Trunk, zone: ClientTimeZone) {
        beginObject()
        field("id", trunk.id)
        field("name", trunk.name)
        field("host", trunk.host)
        field("port", Int64(trunk.port))
        field("transport", trunk.transport.rawValue)
        field("username", trunk.username)
        field("has_password", !trunk.password.isEmpty)
        field("register", trunk.register)
        field("register_expires", Int64(trunk.registerExpires))
        field("from_domain", trunk.fromDomain)
        field("prefixes", strings: trunk.prefixes)
        field("position", Int64(trunk.position))
        field("strip_digits", Int64(trunk.stripDigits))
        field("add_prefix", trunk.addPrefix)
        field("caller_id", trunk.callerID)
        field("max_calls", Int64(trunk.maxCalls))
        field("status", trunk.status.rawValue)
        field("last_error", trunk.lastError)
        field("created_at", zone.localTime(of: trunk.createdAt))
        endObject()
    }
}
