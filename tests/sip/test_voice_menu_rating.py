"""SPEC §2.2 over the wire: a trunk calls a DID routed to a voice menu whose entry context rates
the call. The caller hears the rating prompt as paced RTP, presses 4 (as RFC 4733 events on the
payload type it offered, or as SIP INFO), and the API then has the rating; the same after an
INVITE without SDP (a late offer, answered in the ACK). Also the internal call: a registered
phone dials the menu by its extension name (the INVITE challenged with 407)."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from harness import API, DOMAIN, Numbers, QualityRateServer, Sipp, new_password, sdp_of_final_answer
from media import RTPListener, pcap, prompt_stream_problems, rfc4733_key_packets

MAX_RATE = 5
KEY = 4
TRUNK_CALLER = "4940123456"

# The caller waits this long after the answer before pressing the key: the prompt is playing by
# then (a key may interrupt it), and the test has heard enough of it to check the stream.
KEY_DELAY_MS = "2000"


@pytest.mark.parametrize(
    ("codecs", "answered_codec", "telephone_event", "key_as"),
    [
        pytest.param("0 8", 0, 101, "rfc4733", id="rfc4733-pcmu-pt101"),
        pytest.param("8 0", 8, 96, "rfc4733", id="rfc4733-pcma-pt96"),
        pytest.param("0 8", 0, 101, "application/dtmf-relay", id="info-dtmf-relay"),
        pytest.param("8 0", 8, 101, "application/dtmf", id="info-dtmf"),
    ],
)
def test_trunk_caller_rates_in_a_voice_menu(
    api: API, numbers: Numbers, sipp: Sipp, codecs: str, answered_codec: int, telephone_event: int, key_as: str
) -> None:
    ivr = api.create_rating_ivr(numbers.extension(), max_rate=MAX_RATE)
    did = numbers.did()
    api.create_did(did, ivr)
    keys = {"did": did, "caller": TRUNK_CALLER, "codecs": codecs, "dtmf_pt": str(telephone_event),
            "key_delay_ms": KEY_DELAY_MS}
    since = datetime.now(timezone.utc)
    listener = RTPListener()
    try:
        keys["rtp_port"] = str(listener.port)
        if key_as == "rfc4733":
            caller = sipp.start("trunk_call_rfc4733.xml", "caller", keys=keys,
                                files={"key.pcap": pcap(rfc4733_key_packets(KEY, telephone_event))})
        else:
            body = f"Signal={KEY}\r\nDuration=160\r\n" if key_as == "application/dtmf-relay" else str(KEY)
            caller = sipp.start("trunk_call_info.xml", "caller", keys={**keys, "info_type": key_as, "info_body": body})
        caller.expect_success()
    finally:
        listener.close()

    answer = sdp_of_final_answer(caller)
    assert answer["payload_types"][0] == answered_codec, f"answer {answer}: the offer's first G.711 is {answered_codec}"
    assert telephone_event in answer["payload_types"], f"answer {answer} drops telephone-event {telephone_event}"
    assert answer["rtpmap"].get(telephone_event, "").lower() == "telephone-event/8000", answer

    heard = listener.packets()
    assert heard, "the caller heard no RTP at all"
    problems = prompt_stream_problems(heard, answered_codec)
    assert not problems, f"the prompt's RTP ({len(heard)} packets): " + "; ".join(problems)

    rating = api.the_rating(since, ivr)
    assert rating["rate"] == KEY
    assert rating["extension_id"] == ivr
    assert rating["max_rate"] == MAX_RATE
    assert rating["client_id"] == api.client_id
    assert rating["target"] == "call" and rating["agent_username"] is None, rating
    history = api.the_call_history(rating["call_uuid"])
    assert history["extension_id"] == ivr, history
    assert history["did_number"] == did, history


def test_registered_phone_dials_the_voice_menu_by_name_and_rates(
    api: API, numbers: Numbers, sipp: Sipp, server: QualityRateServer
) -> None:
    phone_name, password = numbers.extension(), new_password()
    api.create_phone(phone_name, password)
    ivr_name = numbers.extension()
    ivr = api.create_rating_ivr(ivr_name, max_rate=MAX_RATE)
    registration = sipp.register(phone_name, password)
    since = datetime.now(timezone.utc)
    listener = RTPListener()
    try:
        caller = sipp.start(
            "phone_call_rfc4733.xml", "phone", port=registration.port, service=phone_name, password=password,
            auth_uri=f"{ivr_name}@{server.sip_address}",
            keys={"domain": DOMAIN, "dialled": ivr_name, "codecs": "0 8", "dtmf_pt": "101",
                  "rtp_port": str(listener.port), "key_delay_ms": KEY_DELAY_MS},
            files={"key.pcap": pcap(rfc4733_key_packets(KEY, 101))},
        )
        caller.expect_success()
    finally:
        listener.close()

    problems = prompt_stream_problems(listener.packets(), sdp_of_final_answer(caller)["payload_types"][0])
    assert not problems, "the prompt's RTP: " + "; ".join(problems)
    rating = api.the_rating(since, ivr)
    assert (rating["rate"], rating["extension_id"], rating["max_rate"]) == (KEY, ivr, MAX_RATE), rating
    history = api.the_call_history(rating["call_uuid"])
    assert history["extension_id"] == ivr and history["did_number"] is None, history
    assert history["from_username"] == phone_name, history


def test_a_trunk_invite_without_sdp_is_offered_both_laws_and_hears_the_one_its_ack_chose(
    api: API, numbers: Numbers, sipp: Sipp
) -> None:
    """A late offer (RFC 3261 §13.2.1): the 200 offers PCMU first, the ACK's answer takes PCMA, and
    the prompt must then come as PCMA to the address in the ACK."""
    ivr = api.create_rating_ivr(numbers.extension(), max_rate=MAX_RATE)
    did = numbers.did()
    api.create_did(did, ivr)
    since = datetime.now(timezone.utc)
    listener = RTPListener()
    try:
        caller = sipp.start("trunk_call_late_offer.xml", "caller", keys={
            "did": did, "caller": TRUNK_CALLER, "codecs": "8", "rtp_port": str(listener.port),
            "key_delay_ms": KEY_DELAY_MS, "info_type": "application/dtmf-relay", "info_body": f"Signal={KEY}\r\n"})
        caller.expect_success()
    finally:
        listener.close()

    problems = prompt_stream_problems(listener.packets(), 8)
    assert not problems, "the prompt's RTP after a late offer answered PCMA: " + "; ".join(problems)
    rating = api.the_rating(since, ivr)
    assert (rating["rate"], rating["extension_id"], rating["max_rate"]) == (KEY, ivr, MAX_RATE), rating
