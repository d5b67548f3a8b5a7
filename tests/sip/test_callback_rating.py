"""SPEC §2.3 over the wire: `POST /extension/{id}/callback/` makes the server call the source
phone, then the destination phone (both SIPp phones registered with digest authentication) and
bridge them. When the destination hangs up first the source is sent to
`transfer_after_dst_hangup`; when the source hangs up first the destination is sent to
`transfer_after_src_hangup`. Either points at a voice menu that rates: the party left on the line
presses 4 and the API has its rating of that call."""

from __future__ import annotations

from datetime import datetime, timezone

from harness import API, Numbers, Sipp, new_password
from media import pcap, rfc4733_key_packets

MAX_RATE = 9
KEY = 4
TALK_MS = "1500"       # the destination's conversation before it hangs up
KEY_DELAY_MS = "5000"  # the source presses its key this long after answering, in the rating prompt


def test_source_rates_after_the_destination_hangs_up(api: API, numbers: Numbers, sipp: Sipp) -> None:
    source_name, source_password = numbers.extension(), new_password()
    destination_name, destination_password = numbers.extension(), new_password()
    source = api.create_phone(source_name, source_password)
    api.create_phone(destination_name, destination_password)
    ivr_name = numbers.extension()
    ivr = api.create_rating_ivr(ivr_name, max_rate=MAX_RATE)

    source_registration = sipp.register(source_name, source_password)
    destination_registration = sipp.register(destination_name, destination_password)
    # The server offers telephone-event on 101 to the phones it calls (docs/SIP.md).
    source_phone = sipp.start("phone_presses_key.xml", "source", port=source_registration.port,
                              service=source_name, keys={"key_delay_ms": KEY_DELAY_MS},
                              files={"key.pcap": pcap(rfc4733_key_packets(KEY, 101))})
    destination_phone = sipp.start("agent_hangs_up.xml", "destination", port=destination_registration.port,
                                   service=destination_name, keys={"talk_ms": TALK_MS})
    since = datetime.now(timezone.utc)
    call_uuid = api.callback(source, [source_name], destination_name, transfer_after_dst_hangup=ivr_name)
    destination_phone.expect_success()
    source_phone.expect_success()

    rating = api.the_rating(since, ivr)
    assert rating["call_uuid"] == call_uuid, f"the rating belongs to {rating['call_uuid']}, the callback was {call_uuid}"
    assert rating["rate"] == KEY
    assert rating["extension_id"] == ivr
    assert rating["max_rate"] == MAX_RATE
    assert rating["target"] == "call" and rating["agent_username"] is None, rating
    history = api.the_call_history(call_uuid)
    assert history["hangup_disposition"] == "agent_hangup", history
    legs = {leg["leg"] for leg in history["cdr"]}
    assert {"callback_source", "callback_destination"} <= legs, history["cdr"]


def test_destination_rates_after_the_source_hangs_up(api: API, numbers: Numbers, sipp: Sipp) -> None:
    source_name, source_password = numbers.extension(), new_password()
    destination_name, destination_password = numbers.extension(), new_password()
    source = api.create_phone(source_name, source_password)
    api.create_phone(destination_name, destination_password)
    ivr_name = numbers.extension()
    ivr = api.create_rating_ivr(ivr_name, max_rate=MAX_RATE)

    source_registration = sipp.register(source_name, source_password)
    destination_registration = sipp.register(destination_name, destination_password)
    # The source's conversation counts from its own answer, before the destination is rung: it
    # talks long enough to be bridged, then hangs up; the destination presses its key later, in
    # the rating prompt.
    source_phone = sipp.start("agent_hangs_up.xml", "source", port=source_registration.port,
                              service=source_name, keys={"talk_ms": "3000"})
    destination_phone = sipp.start("phone_presses_key.xml", "destination", port=destination_registration.port,
                                   service=destination_name, keys={"key_delay_ms": "6000"},
                                   files={"key.pcap": pcap(rfc4733_key_packets(KEY, 101))})
    since = datetime.now(timezone.utc)
    call_uuid = api.callback(source, [source_name], destination_name, transfer_after_src_hangup=ivr_name)
    source_phone.expect_success()
    destination_phone.expect_success()

    rating = api.the_rating(since, ivr)
    assert rating["call_uuid"] == call_uuid, f"the rating belongs to {rating['call_uuid']}, the callback was {call_uuid}"
    assert (rating["rate"], rating["extension_id"], rating["max_rate"]) == (KEY, ivr, MAX_RATE), rating
    assert rating["target"] == "call" and rating["agent_username"] is None, rating
    history = api.the_call_history(call_uuid)
    assert history["hangup_disposition"] == "caller_hangup", history
    legs = {leg["leg"] for leg in history["cdr"]}
    assert {"callback_source", "callback_destination"} <= legs, history["cdr"]
