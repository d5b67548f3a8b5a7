import Domain
@testable import HTTPAPI
import Testing

/// The CSV cell and row encoder alone: RFC 4180 quoting, formula cells made inert (OWASP),
/// nulls, numbers, and the header written from the same field list as the rows.
@Suite struct CSVBytesTests {
    static func cells(_ write: (inout CSVBytes) -> Void) -> String {
        var csv = CSVBytes()
        write(&csv)
        return String(decoding: csv.bytes, as: UTF8.self)
    }

    @Test func plainCellsAreSeparatedByCommasAndRowsEndWithCRLF() {
        let text = Self.cells { csv in
            csv.text("abc")
            csv.number(Int64(42))
            csv.number(80.0)
            csv.endRow()
            csv.text("déjà vu")
            csv.endRow()
        }
        #expect(text == "abc,42,80.0\r\ndéjà vu\r\n")
    }

    @Test(arguments: [
        ("a,b", "\"a,b\""), ("say \"hi\"", "\"say \"\"hi\"\"\""), ("line\r\nbreak", "\"line\r\nbreak\""),
        ("lf\nonly", "\"lf\nonly\""), ("cr\ronly", "\"cr\ronly\""), ("semi;colon", "\"semi;colon\""), ("\"", "\"\"\"\""),
    ])
    func quotesCellsHoldingSeparatorsQuotesOrLineBreaks(value: String, written: String) {
        #expect(Self.cells { $0.text(value) } == written)
    }

    @Test(arguments: [
        ("=1+2", "'=1+2"), ("+4930123456", "'+4930123456"), ("-5", "'-5"), ("@SUM(A1)", "'@SUM(A1)"),
        ("\tx", "'\tx"), ("\rx", "\"'\rx\""), ("=HYPERLINK(\"http://x\",\"y\")", "\"'=HYPERLINK(\"\"http://x\"\",\"\"y\"\")\""),
        ("a=b", "a=b"), ("1-2", "1-2"),
    ])
    func makesFormulaTextInertWithALeadingQuote(value: String, written: String) {
        #expect(Self.cells { $0.text(value) } == written)
    }

    @Test func numbersAreNeverPrefixedEvenWhenNegative() {
        #expect(Self.cells { $0.number(Int64(-3)) } == "-3")
        #expect(Self.cells { $0.number(-0.5) } == "-0.5")
    }

    @Test func nullIsAnEmptyCellAndEmptyTextIsQuoted() {
        let text = Self.cells { csv in
            csv.text(nil)
            csv.text("")
            csv.number(nil as Int64?)
            csv.number(nil as Double?)
            csv.localTime(nil)
            csv.endRow()
        }
        #expect(text == ",\"\",,,\r\n")
    }

    @Test func takeBytesEmptiesTheWriterAndTheNextRowStartsClean() {
        var csv = CSVBytes()
        csv.text("a")
        csv.endRow()
        #expect(csv.takeBytes() == Array("a\r\n".utf8))
        csv.text("b")
        csv.text("c")
        csv.endRow()
        #expect(csv.takeBytes() == Array("b,c\r\n".utf8))
    }

    @Test func headerAndRowComeFromTheSameFieldList() {
        let rating = Rating(
            id: 7, clientID: 1, callUUID: CallUUID("BF4643A0B90D11E98DA84B40F3DF0459")!, ratedAt: UnixTime(seconds: 0),
            extensionID: 10, rate: 4, maxRate: 5, agentUsername: "+4930")
        let local = LocalDateTime(parsing: "2026-03-01 10:00:00")!
        var csv = CSVHeader.row { $0.rating(rating, local: local, withAgent: true) }
        csv.rating(rating, local: local, withAgent: true)
        #expect(String(decoding: csv.bytes, as: UTF8.self) == """
            id,client_id,call_uuid,datetime,extension_id,rate,max_rate,agent_username,target\r
            7,1,BF4643A0B90D11E98DA84B40F3DF0459,2026-03-01 10:00:00,10,4,5,'+4930,agent\r

            """)
    }

    @Test func countsPerKeyBecomeOneColumnPerKeyOneToNine() {
        var bucket = StatisticsBucket(start: nil, key: .all)
        for _ in 0..<3 { bucket.measures.addRating(rate: 2, maxRate: 5) }
        bucket.measures.addRating(rate: 9, maxRate: 9)
        bucket.measures.addOffer(rated: true)
        bucket.measures.addOffer(rated: false)
        var csv = CSVHeader.row { $0.bucket(bucket) }
        csv.bucket(bucket)
        let lines = String(decoding: csv.bytes, as: UTF8.self).components(separatedBy: "\r\n")
        #expect(lines[0] == "start,count,average,"
            + (1...9).map { "count_key_\($0)" }.joined(separator: ",") + ",score_percent,csat_percent,offered,response_rate_percent")
        #expect(lines[1] == ",4,3.75,0,3,0,0,0,0,0,0,1,55.00000000000001,25.0,2,50.0")
    }
}
