import Domain
import Testing

@Suite struct LocalDateTimeTests {
    @Test func parsesTheAPIFormat() throws {
        let local = try #require(LocalDateTime(parsing: "2024-02-29 23:59:58"))
        #expect(local == LocalDateTime(year: 2024, month: 2, day: 29, hour: 23, minute: 59, second: 58))
        #expect(local.description == "2024-02-29 23:59:58")
    }

    @Test(arguments: [
        "2023-02-29 00:00:00", "2024-13-01 00:00:00", "2024-04-31 00:00:00", "2024-01-01 24:00:00",
        "2024-01-01 00:60:00", "2024-01-01T00:00:00", "2024-01-01", "2024-1-01 00:00:00", " 2024-01-01 00:00:00",
        "2024-01-01 00:00:00Z", "２０２４-01-01 00:00:00", "",
    ])
    func refusesAnythingElse(_ text: String) {
        #expect(LocalDateTime(parsing: text) == nil)
    }
}

@Suite struct ClientTimeZoneTests {
    let berlin = ClientTimeZone(identifier: "Europe/Berlin")!

    @Test func acceptsIANANamesOnly() {
        #expect(ClientTimeZone(identifier: "UTC") != nil)
        #expect(ClientTimeZone(identifier: "Asia/Tokyo") != nil)
        #expect(ClientTimeZone(identifier: "Mars/Olympus") == nil)
        #expect(ClientTimeZone(identifier: "") == nil)
    }

    @Test func convertsBothWaysInWinterAndSummer() {
        // 2026-01-15 12:00:00 UTC is 13:00 in Berlin (CET); 2026-07-15 12:00:00 UTC is 14:00 (CEST).
        let winter = UnixTime(seconds: 1_768_478_400)
        let summer = UnixTime(seconds: 1_784_116_800)
        #expect(berlin.localTime(of: winter).description == "2026-01-15 13:00:00")
        #expect(berlin.localTime(of: summer).description == "2026-07-15 14:00:00")
        #expect(berlin.instant(of: LocalDateTime(parsing: "2026-01-15 13:00:00")!) == winter)
        #expect(berlin.instant(of: LocalDateTime(parsing: "2026-07-15 14:00:00")!) == summer)
    }

    @Test func readsTheAutumnOverlapAsItsEarlierInstant() {
        // On 2026-10-25 Berlin's clocks go from 03:00 CEST back to 02:00 CET; 02:30 happens twice.
        let instant = berlin.instant(of: LocalDateTime(parsing: "2026-10-25 02:30:00")!)
        #expect(instant.seconds == 1_792_888_200)  // 00:30 UTC, the first 02:30
    }

    @Test func readsATimeSkippedInSpringJustAfterTheChange() {
        // On 2026-03-29 Berlin's clocks jump from 02:00 to 03:00; 02:30 does not exist.
        let instant = berlin.instant(of: LocalDateTime(parsing: "2026-03-29 02:30:00")!)
        #expect(berlin.localTime(of: instant).description == "2026-03-29 03:30:00")
    }

    @Test func formatterAgreesWithDirectConversionAcrossTransitions() {
        var formatter = berlin.makeFormatter()
        // Every 17 minutes through a year, which crosses both transitions.
        for step in stride(from: Int64(1_767_225_600), to: 1_798_761_600, by: 1020) {
            let instant = UnixTime(seconds: step)
            #expect(formatter.localTime(of: instant) == berlin.localTime(of: instant))
        }
    }

    @Test func handlesDatesBeforeTheEpoch() {
        let utc = ClientTimeZone.utc
        let local = LocalDateTime(parsing: "1969-12-31 23:59:59")!
        #expect(utc.instant(of: local).seconds == -1)
        #expect(utc.localTime(of: UnixTime(seconds: -1)) == local)
    }
}

@Suite struct CallUUIDTests {
    @Test func acceptsOnlyTheCanonicalForm() {
        #expect(CallUUID("BF4643A0B90D11E98DA84B40F3DF0459") != nil)
        #expect(CallUUID("bf4643a0b90d11e98da84b40f3df0459") == nil)
        #expect(CallUUID("BF4643A0-B90D-11E9-8DA8-4B40F3DF0459") == nil)
        #expect(CallUUID("BF4643A0B90D11E98DA84B40F3DF045") == nil)
        #expect(CallUUID("GF4643A0B90D11E98DA84B40F3DF0459") == nil)
    }

    @Test func randomOnesAreCanonicalAndDistinct() {
        let uuids = (0..<1000).map { _ in CallUUID.random() }
        #expect(uuids.allSatisfy { CallUUID($0.value) != nil })
        #expect(Set(uuids).count == 1000)
    }
}
