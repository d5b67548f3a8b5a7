import Domain

/// Where a record's fields are written: a JSON object (`JSONBytes`) or a CSV row (`CSVBytes`,
/// `CSVHeader` for the names). Each record's fields are listed once, below, so a CSV export has
/// exactly the JSON's fields in the JSON's order (docs/API.md, "CSV downloads").
protocol RecordFields {
    mutating func beginRecord()
    mutating func endRecord()
    mutating func field(_ key: StaticString, _ value: String?)
    mutating func field(_ key: StaticString, _ value: Int64?)
    mutating func field(_ key: StaticString, _ value: Double?)
    mutating func field(_ key: StaticString, _ value: LocalDateTime?)
    /// Counts keyed by integers: in JSON an object of the keys present, in CSV a column per key.
    mutating func field(_ key: StaticString, counts: [Int64: Int64])
    /// An array of objects, written as JSON (in CSV, as the cell's text).
    mutating func field(_ key: StaticString, jsonArray writeElements: (inout JSONBytes) -> Void)
}

extension JSONBytes: RecordFields {
    mutating func beginRecord() { beginObject() }
    mutating func endRecord() { endObject() }

    mutating func field(_ key: StaticString, jsonArray writeElements: (inout JSONBytes) -> Void) {
        beginArray(key)
        writeElements(&self)
        endArray()
    }
}

/// The shapes of the API's records (SPEC §3, §4.3).
extension RecordFields {
    /// The seven fields of SPEC §3, in the reference's order, plus `agent_username` and
    /// `target` when asked for with `with_agent=true`.
    mutating func rating(_ rating: Rating, local: LocalDateTime, withAgent: Bool) {
        beginRecord()
        field("id", rating.id)
        field("client_id", rating.clientID)
        field("call_uuid", rating.callUUID.value)
        field("datetime", local)
        field("extension_id", rating.extensionID)
        field("rate", rating.rate)
        field("max_rate", rating.maxRate)
        if withAgent {
            field("agent_username", rating.agentUsername)
            field("target", rating.target.rawValue)
        }
        endRecord()
    }

    mutating func callRecord(_ call: CallRecord, zone: ClientTimeZone) {
        beginRecord()
        field("call_uuid", call.callUUID.value)
        field("client_owner_id", call.clientID)
        field("extension_id", call.extensionID)
        field("extension_name", call.extensionName)
        field("extension_type", call.extensionType?.rawValue)
        field("flow", call.flow.rawValue)
        field("did_number", call.didNumber)
        field("did_domain", call.didDomain)
        field("from_username", call.fromUsername)
        field("from_screen_name", call.fromScreenName)
        field("from_domain", call.fromDomain)
        field("bridged_username", call.bridgedUsername)
        field("bridged_domain", call.bridgedDomain)
        field("bridged_time_gmt", call.bridgedAt.map(ClientTimeZone.utc.localTime(of:)))
        field("bridged_duration", call.bridgedDuration)
        field("duration", call.duration)
        field("hangup_disposition", call.hangupDisposition.rawValue)
        field("start_time", zone.localTime(of: call.startedAt))
        field("start_time_gmt", ClientTimeZone.utc.localTime(of: call.startedAt))
        field("cdr") { json in
            for leg in call.legs {
                json.beginObject()
                json.field("leg", leg.role.rawValue)
                json.field("ani_number", leg.aniNumber)
                json.field("dest_number", leg.destNumber)
                json.field("dest_domain", leg.destDomain)
                json.field("application", leg.application?.rawValue)
                json.field("start_time_gmt", ClientTimeZone.utc.localTime(of: leg.startedAt))
                json.field("duration", leg.duration)
                // Issue 11: a leg to a number outside the client, through a trunk.
                json.field("flow", leg.flow.rawValue)
                json.field("trunk_id", leg.trunkID)
                json.field("trunk_name", leg.trunkName)
                json.field("sip_status", leg.sipStatus.map(Int64.init))
                json.endObject()
            }
        }
        endRecord()
    }
}

extension JSONBytes {
    /// `notificationSecret`: a signing secret just made, shown in this answer only.
    mutating func client(_ client: Client, notificationSecret: String? = nil) {
        beginObject()
        field("id", client.id)
        field("name", client.name)
        field("timezone", client.timezone)
        field("domain", client.domain)
        field("rating_notification_url", client.ratingNotificationURL)
        field("rating_alert_threshold", client.ratingAlertThreshold)
        field("rating_alert_url", client.ratingAlertURL)
        if let notificationSecret { field("rating_notification_secret", notificationSecret) }
        endObject()
    }
}
