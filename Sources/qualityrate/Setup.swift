import Access
import ArgumentParser
import Domain
import Foundation
import Logging

struct Setup: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Create a client with an admin user and a trusted application with all access; prints their credentials as JSON.")

    @Option(name: .long, help: "The client's (company's) name.")
    var client: String

    @Option(name: .long, help: "IANA time zone of the client, e.g. Europe/Berlin.")
    var timezone = "UTC"

    @Option(name: .long, help: "SIP domain of the client (default: derived from the name, e.g. acme.local).")
    var domain: String?

    @OptionGroup var database: DatabaseOption

    func validate() throws {
        guard !client.trimmingCharacters(in: .whitespaces).isEmpty else { throw ValidationError("--client: give the client's name") }
        guard ClientTimeZone(identifier: timezone) != nil else {
            throw ValidationError("--timezone: '\(timezone)' is not an IANA time zone name such as Europe/Berlin or UTC")
        }
    }

    func run() async throws {
        let zone = ClientTimeZone(identifier: timezone) ?? .utc
        let provisioned = try await database.withStore(logger: Logger(label: "qualityrate")) { store in
            try await Provisioning(store: store).createClient(name: client, timezone: zone, domain: domain)
        }
        print(JSONLine.object([
            ("client_id", .number(provisioned.clientID)),
            ("domain", .string(provisioned.domain)),
            ("username", .string(provisioned.username)),
            ("password", .string(provisioned.password)),
            ("app_id", .string(provisioned.appID)),
            ("app_secret", .string(provisioned.appSecret)),
        ]))
    }
}

/// One JSON object on one line, fields in the given order, for scripts to read.
enum JSONLine {
    enum Value {
        case string(String)
        case number(Int64)
        case object([(String, Value)])
    }

    static func object(_ fields: [(String, Value)]) -> String {
        "{" + fields.map { key, value in "\(quoted(key)): \(encoded(value))" }.joined(separator: ", ") + "}"
    }

    private static func encoded(_ value: Value) -> String {
        switch value {
        case .string(let text): quoted(text)
        case .number(let number): String(number)
        case .object(let fields): object(fields)
        }
    }

    private static func quoted(_ text: String) -> String {
        var result = "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": result += "\\\""
            case "\\": result += "\\\\"
            case _ where scalar.value < 0x20: result += String(format: "\\u%04x", scalar.value)
            default: result.unicodeScalars.append(scalar)
            }
        }
        return result + "\""
    }
}
