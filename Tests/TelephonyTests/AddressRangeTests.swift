import Telephony
import Testing

@Suite struct AddressRangeTests {
    @Test func ipv4Ranges() throws {
        let loopback = try #require(AddressRange("127.0.0.0/8"))
        #expect(loopback.contains("127.0.0.1") && loopback.contains("127.255.3.4"))
        #expect(!loopback.contains("128.0.0.1") && !loopback.contains("10.0.0.1"))
        let one = try #require(AddressRange("127.0.0.1/32"))
        #expect(one.contains("127.0.0.1") && !one.contains("127.0.0.2"))
        let odd = try #require(AddressRange("192.168.1.128/25"))
        #expect(odd.contains("192.168.1.200") && !odd.contains("192.168.1.127"))
        #expect(try #require(AddressRange("0.0.0.0/0")).contains("8.8.8.8"))
        #expect(try #require(AddressRange("10.0.0.7")).contains("10.0.0.7"))
    }

    @Test func ipv6RangesAndMappedAddresses() throws {
        let documentation = try #require(AddressRange("2001:db8::/32"))
        #expect(documentation.contains("2001:db8:1::5") && !documentation.contains("2001:db9::1"))
        #expect(try #require(AddressRange("::1/128")).contains("::1"))
        #expect(try #require(AddressRange("10.0.0.0/8")).contains("::ffff:10.1.2.3"))
        #expect(!documentation.contains("10.0.0.1"))
    }

    @Test func refusesWhatIsNotARange() {
        for text in ["", "127.0.0.1/33", "127.0.0/8", "256.0.0.1", "1.2.3.4/-1", "1.2.3.4/", "::1/129", "1:2:3:4:5:6:7:8:9", "a::b::c", "localhost", "1.2.3.04444"] {
            #expect(AddressRange(text) == nil, "\(text)")
        }
    }
}
