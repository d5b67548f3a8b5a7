import Admission
import Testing

@Suite struct AuthenticationBansTests {
    let policy = AuthenticationBans<String>.Policy(sourceFailures: 3, accountFailures: 5, window: 60, firstBan: 10, longestBan: 35)

    @Test func aSourceIsBannedAtTheThresholdAndFreeAgainAfterTheBan() {
        var bans = AuthenticationBans<String>(policy: policy)
        #expect(bans.failed(source: "10.0.0.9", account: "101@a", at: 100).isEmpty)
        #expect(bans.failed(source: "10.0.0.9", account: "102@a", at: 101).isEmpty)
        #expect(bans.failed(source: "10.0.0.9", account: "103@a", at: 102) == [.source("10.0.0.9", seconds: 10, failures: 3)])
        #expect(bans.verdict(source: "10.0.0.9", account: nil, at: 103) == .sourceBanned(retryAfter: 9))
        #expect(bans.verdict(source: "10.0.0.7", account: "101@a", at: 103) == .allowed)
        #expect(bans.bannedSources(at: 103) == 1)
        #expect(bans.verdict(source: "10.0.0.9", account: nil, at: 112) == .allowed)
        #expect(bans.bannedSources(at: 112) == 0)
    }

    @Test func eachFurtherBanIsTwiceAsLongUpToTheLongest() {
        var bans = AuthenticationBans<String>(policy: policy)
        var now: Int64 = 0
        var lengths: [Int64] = []
        for _ in 0..<4 {
            while bans.verdict(source: "x", account: nil, at: now) != .allowed { now += 1 }
            for case .source(_, let seconds, _) in (0..<3).flatMap({ _ in bans.failed(source: "x", account: "a\(now)", at: now) }) {
                lengths.append(seconds)
            }
        }
        #expect(lengths == [10, 20, 35, 35])
    }

    @Test func failuresSpreadOverMoreThanTheWindowStartNoBan() {
        var bans = AuthenticationBans<String>(policy: policy)
        for minute in 0..<10 {
            _ = bans.failed(source: "x", account: "a", at: Int64(minute) * 60)
            _ = bans.failed(source: "x", account: "a", at: Int64(minute) * 60 + 1)
        }
        #expect(bans.verdict(source: "x", account: nil, at: 601) == .allowed)
    }

    @Test func aSuccessForgivesTheSourcesFailures() {
        var bans = AuthenticationBans<String>(policy: policy)
        _ = bans.failed(source: "x", account: "a", at: 0)
        _ = bans.failed(source: "x", account: "a", at: 1)
        bans.succeeded(source: "x", account: "a", at: 2)
        #expect(bans.failed(source: "x", account: "a", at: 3).isEmpty)
        #expect(bans.verdict(source: "x", account: "a", at: 3) == .allowed)
    }

    @Test func anAccountUnderADistributedAttackIsGuardedExceptFromWhereItSignedInBefore() {
        var bans = AuthenticationBans<String>(policy: policy)
        bans.succeeded(source: "desk-phone", account: "101@a", at: 0)
        var started: [AuthenticationBans<String>.Ban] = []
        for attacker in 0..<5 { started += bans.failed(source: "bot-\(attacker)", account: "101@a", at: 10) }
        #expect(started == [.account("101@a", seconds: 10, failures: 5)])
        #expect(bans.verdict(source: "bot-9", account: "101@a", at: 11) == .accountGuarded(retryAfter: 9))
        #expect(bans.verdict(source: "desk-phone", account: "101@a", at: 11) == .allowed)
        #expect(bans.verdict(source: "bot-9", account: "102@a", at: 11) == .allowed)
    }

    @Test func aScanOverManyAddressesKeepsTheTablesBounded() {
        var bans = AuthenticationBans<String>(policy: policy, capacity: 100)
        for index in 0..<10_000 { _ = bans.failed(source: "s\(index)", account: "a\(index)", at: Int64(index)) }
        // The newest entries are kept, so a source failing now is still counted.
        _ = bans.failed(source: "s9999", account: "b", at: 10_000)
        _ = bans.failed(source: "s9999", account: "c", at: 10_000)
        #expect(bans.verdict(source: "s9999", account: nil, at: 10_001) == .sourceBanned(retryAfter: 9))
    }
}

@Suite struct CallAdmissionTests {
    @Test func noMoreCallsThanTheMaximumAtOnce() {
        var admission = CallAdmission<String>(limits: .init(maximumCalls: 2, callsPerSecond: 100, callsPerSecondPerSource: 100))
        #expect(admission.admit(from: "t", at: 0) == .admitted)
        #expect(admission.admit(from: "t", at: 0) == .admitted)
        #expect(admission.admit(from: "t", at: 0) == .refused(.tooManyCalls, retryAfter: 5))
        admission.ended()
        #expect(admission.admit(from: "t", at: 0) == .admitted)
        #expect(admission.activeCalls == 2)
    }

    @Test func newCallsPerSecondInAllAndFromOneSource() {
        var admission = CallAdmission<String>(limits: .init(maximumCalls: 1000, callsPerSecond: 10, callsPerSecondPerSource: 4))
        let fromOne = (0..<6).map { _ in admission.admit(from: "trunk-a", at: 1) }
        #expect(fromOne.filter { $0 == .admitted }.count == 4)
        #expect(fromOne.last == .refused(.tooManyNewCallsFromSource, retryAfter: 1))
        // The other trunk has its own share, within the global rate.
        let fromOthers = (0..<8).map { index in admission.admit(from: "trunk-\(index % 2 == 0 ? "b" : "c")", at: 1) }
        #expect(fromOthers.filter { $0 == .admitted }.count == 6)
        #expect(fromOthers.contains(.refused(.tooManyNewCalls, retryAfter: 1)))
        // A second later the buckets have refilled.
        #expect(admission.admit(from: "trunk-a", at: 2) == .admitted)
    }

    @Test func aSustainedFloodIsHeldToTheRate() {
        var admission = CallAdmission<String>(limits: .init(maximumCalls: 100_000, callsPerSecond: 50, callsPerSecondPerSource: 50))
        var admitted = 0
        for tick in 0..<10_000 where admission.admit(from: "flood", at: Double(tick) / 1000) == .admitted { admitted += 1 }
        // 10 s at 50 per second, plus the first second's burst.
        #expect((500...550).contains(admitted))
    }
}

@Suite struct ConnectionPlacesTests {
    @Test func placesInAllAndPerAddressAreGivenAndTakenBack() {
        var places = ConnectionPlaces(maximum: 3, maximumPerAddress: 2)
        #expect(places.take(from: "a") == nil)
        #expect(places.take(from: "a") == nil)
        #expect(places.take(from: "a") == .fullForAddress)
        #expect(places.take(from: "b") == nil)
        #expect(places.take(from: "c") == .full)
        places.release(from: "a")
        #expect(places.take(from: "c") == nil)
        // Releasing for an address that holds nothing changes nothing.
        places.release(from: "z")
        #expect(places.open == 3)
    }
}
