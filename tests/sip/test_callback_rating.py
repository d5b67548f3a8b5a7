"""SPEC §2.3 over the wire: `POST /extension/{id}/callback/` makes the server call the source
phone, then the destination phone (both SIPp phones registered with digest authentication) and
bridge them. When the destination hangs up first the source is sent to
`transfer_after_dst_hangup`; when the source hangs up first the destination is sent to
`transfer_after_src_hangup`. Either points at a voice menu that rates: the party left on the line
presses 4 and the API has its rating: of the call when the source rates (the destination phone
is no agent), of the source when the destination rates (the source is one of the client's
agents: issue 11, docs/API.md)."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

import pytest

from harness import API, Numbers, Sipp, new_password
from media import pcap, rfc4733_key_packets

MAX_RATE = 9
KEY = 4


# The party hanging up talks `talk_ms` from its own answer. The source answers before the
# destination is rung, so when it is the one leaving it talks long enough to be bridged. The
# rater presses its key `key_delay_ms` after its answer, in the rating prompt.
@pytest.mark.parametrize(
    ("rater", "talk_ms", "key_delay_ms", "disposition"),
    [
        pytest.param("source", "1500", "5000", "agent_hangup", id="destination-hangs-up-source-rates"),
        pytest.param("destination", "3000", "6000", "caller_hangup", id="source-hangs-up-destination-rates"),
    ],
)
def test_the_party_left_on_the_line_rates(api: API, numbers: Numbers, sipp: Sipp, rater: str, talk_ms: str,
                                          key_delay_ms: str, disposition: str) -> None:
    rating, call_uuid, source = callback_rated_by(api, numbers, sipp, rater, talk_ms=talk_ms, key_delay_ms=key_delay_ms)
    assert rating["call_uuid"] == call_uuid, f"the rating belongs to {rating['call_uuid']}, the callback was {call_uuid}"
    if rater == "destination":
        # Left by the source, the destination rates the source: an agent of the client (issue 11).
        assert rating["target"] == "agent" and rating["agent_username"] == source, rating
    else:
        assert rating["target"] == "call" and rating["agent_username"] is None, rating
    history = api.the_call_history(call_uuid)
    assert history["hangup_disposition"] == disposition, history
    assert {"callback_source", "callback_destination"} <= {leg["leg"] for leg in history["cdr"]}, history["cdr"]


def callback_rated_by(api: API, numbers: Numbers, sipp: Sipp, rater: str, talk_ms: str,
                      key_delay_ms: str) -> tuple[dict[str, Any], str, str]:
    """A callback between two registered SIPp phones in which the other party hangs up first and
    `rater` ("source" or "destination") is sent to a rating menu, where it presses KEY as
    RFC 4733 (the server offers telephone-event on 101 to the phones it calls, docs/SIP.md).
    Returns the menu's one rating, the callback's call_uuid and the source's extension name."""
    names = {party: numbers.extension() for party in ("source", "destination")}
    passwords = {party: new_password() for party in names}
    extensions = {party: api.create_phone(names[party], passwords[party]) for party in names}
    ivr_name = numbers.extension()
    ivr = api.create_rating_ivr(ivr_name, max_rate=MAX_RATE)
    registrations = {party: sipp.register(names[party], passwords[party]) for party in names}
    hanging_up = "destination" if rater == "source" else "source"
    rating_phone = sipp.start("phone_presses_key.xml", rater, port=registrations[rater].port, service=names[rater],
                              keys={"key_delay_ms": key_delay_ms}, files={"key.pcap": pcap(rfc4733_key_packets(KEY, 101))})
    leaving_phone = sipp.start("agent_hangs_up.xml", hanging_up, port=registrations[hanging_up].port,
                               service=names[hanging_up], keys={"talk_ms": talk_ms})
    since = datetime.now(timezone.utc)
    transfer = "transfer_after_dst_hangup" if rater == "source" else "transfer_after_src_hangup"
    call_uuid = api.callback(extensions["source"], [names["source"]], names["destination"], **{transfer: ivr_name})
    leaving_phone.expect_success()
    rating_phone.expect_success()
    rating = api.the_rating(since, ivr)
    assert (rating["rate"], rating["extension_id"], rating["max_rate"]) == (KEY, ivr, MAX_RATE), rating
    return rating, call_uuid, names["source"]
