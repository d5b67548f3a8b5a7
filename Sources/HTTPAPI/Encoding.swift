import Domain

/// The JSON shapes of the API's records (SPEC §3, §4.3), written with `JSONBytes`.
extension JSONBytes {
    /// The seven fields of SPEC §3, in the reference's order, plus `agent_username` and
    /// `target` when asked for with `with_agent=true`.
    mutating func rating(_ rating: Rating, local: LocalDateTime, withAgent: Bool) {
        beginObject()
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
        endObject()
    }

    mutating func callRecord(_ call: CallRecord, zone: ClientTimeZone) {
        beginObject()
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
        beginArray("cdr")
        for leg in call.legs {
            beginObject()
            field("leg", leg.role.rawValue)
            field("ani_number", leg.aniNumber)
            field("dest_number", leg.destNumber)
            field("dest_domain", leg.destDomain)
            field("application", leg.application?.rawValue)
            field("start_time_gmt", ClientTimeZone.utc.localTime(of: leg.startedAt))
            field("duration", leg.duration)
            endObject()
        }
        endArray()
        endObject()
    }

    /// `notificationSecret`: a signing secret just made, shown in this answer only.
    mutating func client(_ client: Client, notificationSecret: String? = nil) {
        beginObject()
        field("id", client.id)
        field("name", client.name)
        field("timezone", client.timezone)
        field("domain", client.domain)
        field("rating_notification_url", client.ratingNotificationURL)
        field("rating_alert_threshold", client.ratingAlertThreshold)
        if let notificationSecret { field("rating_notification_secret", notificationSecret) }
        endObject()
    }
}
