import Domain
import Foundation
import Storage
import Testing

/// CSV downloads of the ratings list, call history and statistics (issue 10, point 2) over real
/// HTTP: chosen by `Accept` or `format`, RFC 4180 rows with the JSON's columns and values,
/// formula cells made inert, the same filters, and errors that stay JSON.
@Suite struct CSVExportAPITests {
    static let ratingColumns = ["id", "client_id", "call_uuid", "datetime", "extension_id", "rate", "max_rate"]
    static let csvContentType = "text/csv; charset=utf-8; header=present"

    /// Reads RFC 4180 strictly: every row ends with CRLF, a CR or LF outside quotes is an error.
    static func rows(_ text: String, sourceLocation: SourceLocation = #_sourceLocation) -> [[String]] {
        let scalars = Array(text.unicodeScalars)
        var rows: [[String]] = []
        var row: [String] = []
        var cell = String.UnicodeScalarView()
        var quoted = false
        var index = 0
        while index < scalars.count {
            let scalar = scalars[index]
            let next = index + 1 < scalars.count ? scalars[index + 1] : nil
            if quoted {
                if scalar == "\"" && next == "\"" {
                    cell.append(scalar)
                    index += 1
                } else if scalar == "\"" {
                    quoted = false
                } else {
                    cell.append(scalar)
                }
            } else if scalar == "\"" {
                quoted = true
            } else if scalar == "," {
                row.append(String(cell))
                cell = String.UnicodeScalarView()
            } else if scalar == "\r" && next == "\n" {
                row.append(String(cell))
                rows.append(row)
                (row, cell) = ([], String.UnicodeScalarView())
                index += 1
            } else if scalar == "\r" || scalar == "\n" {
                Issue.record("a bare line break outside quotes at \(index)", sourceLocation: sourceLocation)
            } else {
                cell.append(scalar)
            }
            index += 1
        }
        #expect(row.isEmpty && cell.isEmpty && !quoted, "the last row must end with CRLF", sourceLocation: sourceLocation)
        return rows
    }

    /// A JSON text or null as the CSV writes it: null empty, formula starts behind a `'`.
    static func cell(_ value: Any?) -> String {
        guard let text = value as? String else { return "" }
        return ["=", "+", "-", "@", "\t", "\r"].contains(where: text.hasPrefix) ? "'" + text : text
    }

    /// Whether a CSV row holds the JSON object's values of `columns`: numbers compared as numbers,
    /// within the last digit that Foundation's JSON parser on Linux may round differently (the
    /// statistics test also compares the texts exactly).
    static func matches(_ row: ArraySlice<String>, _ object: [String: Any], _ columns: [String]) -> Bool {
        row.count == columns.count && zip(row, columns).allSatisfy { cell, column in
            if let number = object[column] as? NSNumber {
                guard let value = Double(cell) else { return false }
                return abs(value - number.doubleValue) <= 1e-12 * max(1, abs(value))
            }
            return cell == Self.cell(object[column])
        }
    }

    @Test func ratingsCSVHasTheJSONColumnsValuesAndAgentsWithFormulaCellsInert() async throws {
        let fixture = try await APIFixture()
        let agents = ["=1+2", "+4930123456", "-7", "@SUM(A1)", "\tx", "\rx", "a,\"b\"\r\nc", "101", "déjà"]
        try await fixture.addRatings(fixture.acme, agents.enumerated().map { ("2026-03-01 10:00:0\($0.offset)", 4, $0.element) })
        try await fixture.addRatings(fixture.acme, [("2026-03-01 11:00:00", 2, nil)])
        try await fixture.withServer { client in
            let token = try await client.token(fixture.acme)
            let base = "/api/ver1.0/client/\(fixture.acme.clientID)/quality_rate/"
            let json = try await client.get(base + "?with_agent=true", token: token).array
            let reply = try await client.get(base + "?format=csv", token: token)
            #expect(reply.status == .ok)
            #expect(reply.headers[.contentType] == Self.csvContentType)
            #expect(reply.headers[.contentDisposition] == "attachment; filename=\"client-\(fixture.acme.clientID)-ratings-all.csv\"")
            let rows = Self.rows(reply.text)
            let columns = Self.ratingColumns + ["agent_username", "target"]
            #expect(rows.first == columns)
            #expect(rows.count == json.count + 1)
            for (row, object) in zip(rows.dropFirst(), json) {
                #expect(Self.matches(row[...], object, columns), "\(row)")
            }
            #expect(rows.dropFirst().map { $0[7] } == agents.map { Self.cell($0) } + [""])
            #expect(rows[1][7] == "'=1+2" && rows[2][7] == "'+4930123456" && rows[7][7] == "a,\"b\"\r\nc")
            #expect(reply.text.contains("\"a,\"\"b\"\"\r\nc\""))
        }
    }

    @Test func acceptOrFormatChoosesCSVAndFormatWins() async throws {
        let fixture = try await APIFixture()
        try await fixture.addRatings(fixture.acme, [("2026-03-01 10:00:00", 4, "101")])
        try await fixture.withServer { client in
            let token = try await client.token(fixture.acme)
            let base = "/api/ver1.0/client/\(fixture.acme.clientID)/quality_rate/"
            for accept in ["text/csv", "text/csv; charset=utf-8", "application/json;q=0.5, text/csv", "text/*"] {
                let reply = try await client.get(base, token: token, accept: accept)
                #expect(reply.headers[.contentType] == Self.csvContentType, "\(accept)")
                #expect(Self.rows(reply.text).count == 2)
            }
            for accept in [nil, "*/*", "application/json", "text/csv;q=0.5, application/json", "text/html,*/*;q=0.8", "text/csv;q=0"] {
                let reply = try await client.get(base, token: token, accept: accept)
                #expect(reply.headers[.contentType] == "application/json", "\(accept ?? "none")")
                #expect(reply.array.count == 1)
            }
            let json = try await client.get(base + "?format=json", token: token, accept: "text/csv")
            #expect(json.headers[.contentType] == "application/json")
            let csv = try await client.get(base + "?format=csv", token: token, accept: "application/json")
            #expect(csv.headers[.contentType] == Self.csvContentType)
            // Without the agent columns when asked: exactly the JSON's seven fields.
            let seven = try await client.get(base + "?format=csv&with_agent=false", token: token)
            #expect(Self.rows(seven.text).first == Self.ratingColumns)
        }
    }

    @Test func filtersLimitsAndPagingApplyAndTheFileNameNamesThePeriod() async throws {
        let fixture = try await APIFixture(acmeTimeZone: "Europe/Berlin")
        let stored = try await fixture.addRatings(fixture.acme, [
            ("2026-03-01 09:59:59", 1, nil), ("2026-03-01 10:00:00", 2, nil), ("2026-03-01 12:00:00", 3, nil),
            ("2026-03-02 00:00:00", 4, nil),
        ])
        try await fixture.addRatings(fixture.acme, [("2026-03-01 11:00:00", 5, nil)], extensionID: 51)
        // More rows than a page (1,000), so the CSV is written in several pieces with one header.
        try await fixture.addRatings(fixture.acme, (0..<2_500).map { second in
            ("2026-04-01 10:" + String(format: "%02d:%02d", second / 60, second % 60), Int64(1 + second % 5), "10\(second % 3)")
        })
        try await fixture.withServer { client in
            let token = try await client.token(fixture.acme)
            let base = "/api/ver1.0/client/\(fixture.acme.clientID)/quality_rate/?format=csv"
            let period = "&start_datetime=2026-03-01%2010:00:00&end_datetime=2026-03-02%2000:00:00"
            let filtered = try await client.get(base + period + "&extension_id=50", token: token)
            #expect(Self.rows(filtered.text).dropFirst().map { $0[0] } == [stored[1].id, stored[2].id, stored[3].id].map(String.init))
            #expect(filtered.headers[.contentDisposition]
                == "attachment; filename=\"client-\(fixture.acme.clientID)-ratings-20260301T100000-20260302T000000.csv\"")
            let page = try await client.get(base + period + "&limit=2&after_id=\(stored[1].id)", token: token)
            #expect(Self.rows(page.text).dropFirst().map { $0[5] } == ["5", "3"])
            let from = try await client.get(base + "&start_datetime=2026-04-01%2000:00:00", token: token)
            let rows = Self.rows(from.text)
            #expect(rows.count == 2_501)
            #expect(rows.filter { $0[0] == "id" }.count == 1)
            #expect(from.headers[.contentDisposition]?.contains("-ratings-from-20260401T000000.csv") == true)
        }
    }

    @Test func errorsStayJSONWhenCSVWasAskedFor() async throws {
        let fixture = try await APIFixture()
        try await fixture.withServer { client in
            let token = try await client.token(fixture.acme)
            for path in ["quality_rate/", "call_history/", "quality_rate/statistics/"] {
                let mine = "/api/ver1.0/client/\(fixture.acme.clientID)/" + path
                try await client.get("/api/ver1.0/client/\(fixture.other.clientID)/" + path + "?format=csv", token: token)
                    .expectError(.notFound, code: "not_found")
                try await client.get("/api/ver1.0/client/\(fixture.other.clientID)/" + path, token: token, accept: "text/csv")
                    .expectError(.notFound, code: "not_found")
                for format in ["xml", "CSV", ""] {
                    let reply = try await client.get(mine + "?format=\(format)", token: token, accept: "text/csv")
                    reply.expectError(.badRequest, code: "invalid_parameter", mentioning: "format")
                    #expect(reply.headers[.contentType] == "application/json")
                }
                try await client.get(mine + "?format=csv&start_datetime=yesterday", token: token)
                    .expectError(.badRequest, code: "invalid_parameter", mentioning: "start_datetime")
                try await client.get(mine + "?format=csv", token: nil).expectError(.unauthorized, code: "invalid_token")
            }
        }
    }

    @Test func callHistoryCSVHasTheJSONColumnsWithTheLegsAsJSONText() async throws {
        let fixture = try await APIFixture(acmeTimeZone: "Asia/Tokyo")
        let record = CallHistoryAPITests().call(fixture, startedAt: 1_767_225_600)
        try await fixture.store.insertCalls([record], isSample: false)
        try await fixture.withServer { client in
            let token = try await client.token(fixture.acme)
            let base = "/api/ver1.0/client/\(fixture.acme.clientID)/call_history/"
            let json = try await client.get(base, token: token).array
            let reply = try await client.get(base + "?end_datetime=2026-01-01%2023:59:59", token: token, accept: "text/csv")
            #expect(reply.headers[.contentType] == Self.csvContentType)
            #expect(reply.headers[.contentDisposition]
                == "attachment; filename=\"client-\(fixture.acme.clientID)-call-history-until-20260101T235959.csv\"")
            let rows = Self.rows(reply.text)
            let columns = [
                "call_uuid", "client_owner_id", "extension_id", "extension_name", "extension_type", "flow", "did_number",
                "did_domain", "from_username", "from_screen_name", "from_domain", "bridged_username", "bridged_domain",
                "bridged_time_gmt", "bridged_duration", "duration", "hangup_disposition", "start_time", "start_time_gmt", "cdr",
            ]
            #expect(rows.first == columns)
            #expect(rows.count == 2)
            let object = try #require(json.first)
            #expect(Self.matches(rows[1].prefix(19), object, Array(columns.prefix(19))), "\(rows[1])")
            #expect(rows[1][8] == "'+4930111")
            let legs = try #require(JSONSerialization.jsonObject(with: Data(rows[1][19].utf8)) as? [[String: Any]])
            #expect(legs.map { $0["leg"] as? String } == ["caller", "agent"])
            #expect(NSArray(array: legs).isEqual(to: object["cdr"] as? [Any] ?? []))
        }
    }

    @Test(arguments: ["", "interval=day", "interval=hour&group_by=agent", "interval=month&group_by=extension"])
    func statisticsCSVFiguresEqualTheJSONFigures(query: String) async throws {
        let fixture = try await APIFixture(acmeTimeZone: "Europe/Berlin")
        let (ratings, _) = try await StatisticsAPITests.offered(StatisticsAPITests.varied(fixture.acme.clientID), store: fixture.store)
        try await fixture.store.insertRatings(ratings)
        try await fixture.withServer { client in
            let token = try await client.token(fixture.acme)
            let base = "/api/ver1.0/client/\(fixture.acme.clientID)/quality_rate/statistics/?end_datetime=2026-03-30%2012:00:00&"
            let json = try await client.get(base + query, token: token)
            let buckets = try #require(json.object["buckets"] as? [[String: Any]])
            let reply = try await client.get(base + query + "&format=csv", token: token)
            #expect(reply.headers[.contentType] == Self.csvContentType)
            let rows = Self.rows(reply.text)
            let key = query.contains("group_by=agent") ? ["agent_username"] : query.contains("group_by=extension") ? ["extension_id"] : []
            let keys = (1...9).map { "count_key_\($0)" }
            let after = ["score_percent", "csat_percent", "offered", "response_rate_percent"]
            #expect(rows.first == ["start"] + key + ["count", "average"] + keys + after)
            #expect(rows.count == buckets.count + 1)
            #expect(buckets.count > 1 || query.isEmpty)
            for (row, bucket) in zip(rows.dropFirst(), buckets) {
                let perKey = bucket["count_per_key"] as? [String: Int] ?? [:]
                let before = ["start"] + key + ["count", "average"]
                #expect(Self.matches(row.prefix(before.count), bucket, before), "\(row)")
                #expect(row.dropFirst(before.count).prefix(9).map { Int($0) } == (1...9).map { perKey[String($0)] ?? 0 })
                #expect(Self.matches(row.suffix(after.count), bucket, after), "\(row)")
                // The figures are the very texts of the JSON answer (null: an empty cell).
                for (name, text) in [("average", row[before.count - 1])] + zip(after, row.suffix(after.count)).map({ ($0, $1) }) {
                    #expect(json.text.contains("\"\(name)\":\(text.isEmpty ? "null" : text)"), "\(name) \(text)")
                }
            }
            let name = query.isEmpty ? "statistics" : "statistics-" + query.replacingOccurrences(of: "interval=", with: "")
                .replacingOccurrences(of: "&group_by=", with: "-by-")
            #expect(reply.headers[.contentDisposition]
                == "attachment; filename=\"client-\(fixture.acme.clientID)-\(name)-until-20260330T120000.csv\"")
        }
    }
}
