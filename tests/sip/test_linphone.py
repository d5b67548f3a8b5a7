"""Linphone (liblinphone 5.1, Debian's linphone-daemon) as a real softphone against the server:
as a queue agent that answers a trunk call (by itself, or when told), talks and hangs up first,
after which the SIPp caller rates it; and as a caller that dials a rating voice menu by its
extension name (its INVITE challenged with 407) and presses its key as RFC 4733 or as SIP INFO."""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

import pytest

from harness import API, Numbers, QualityRateServer, Sipp, eventually, new_password
from linphone import Linphone, running
from media import RTPListener, RTPPacket, pcap, rfc4733_key_packets
from test_queue_rating import assert_of_the_agent_who_hung_up

QUALITY_RATE_MAX = 7
MAX_RATE = 5
KEY = 4
TRUNK_CALLER = "4940555111"

# The SIPp caller presses its key this long after the server answered it: well after Linphone
# has hung up, which it does once the caller has heard half a second of it (a few seconds in all).
KEY_DELAY_MS = "6000"

# Half a second of Linphone's audio (20 ms per packet), relayed by the server to the caller.
HEARD_PACKETS = 25

PCMU_SILENCE = (0xFF, 0x7F)


@pytest.mark.parametrize("auto_answer", [True, False], ids=["auto-answer", "answer-command"])
def test_linphone_agent_answers_hangs_up_first_and_the_caller_rates_it(
    api: API, numbers: Numbers, sipp: Sipp, server: QualityRateServer, tmp_path: Path, auto_answer: bool
) -> None:
    agent_name, password = numbers.extension(), new_password()
    agent = api.create_phone(agent_name, password)
    queue = api.create_rating_queue(numbers.extension(), [agent], QUALITY_RATE_MAX)
    did = numbers.did()
    api.create_did(did, queue)

    listener = RTPListener()
    try:
        with running(Linphone(tmp_path / "linphone", agent_name, password, server.sip_address,
                              auto_answer=auto_answer)) as phone:
            phone.wait_until_registered()
            since = datetime.now(timezone.utc)
            caller = sipp.start(
                "trunk_call_rfc4733.xml", "caller",
                keys={"did": did, "caller": TRUNK_CALLER, "codecs": "0 8", "dtmf_pt": "101",
                      "rtp_port": str(listener.port), "key_delay_ms": KEY_DELAY_MS},
                files={"key.pcap": pcap(rfc4733_key_packets(KEY, 101))},
            )
            ringing = phone.wait_for_call("LinphoneCallIncomingReceived")
            assert f"sip:{TRUNK_CALLER}@" in ringing["From"], f"the agent is shown the caller's number: {ringing}"
            call = ringing["Id"]
            if not auto_answer:
                phone.answer(call)
            phone.wait_for_call("LinphoneCallStreamsRunning", call)
            phone.send_audio(call)
            heard = eventually("Linphone's audio relayed to the caller", lambda: agent_audio(listener))
            phone.hang_up(call)
            phone.wait_for_call("LinphoneCallEnd", call)
            caller.expect_success()
    finally:
        listener.close()

    assert {packet.payload_type for packet in heard} == {0}, "the caller offered PCMU first and hears PCMU"
    assert any(byte not in PCMU_SILENCE for packet in heard for byte in packet.payload), "the agent's tone, not silence"
    rating = api.the_rating(since, queue)
    assert (rating["rate"], rating["max_rate"], rating["extension_id"]) == (KEY, QUALITY_RATE_MAX, queue), rating
    assert_of_the_agent_who_hung_up(api, rating, agent_name, queue)


def agent_audio(listener: RTPListener) -> list[RTPPacket] | None:
    """The packets of the first stream (SSRC) the caller heard, once there are HEARD_PACKETS:
    the queue plays nothing before the agent answers, so that is Linphone's, relayed by the
    server with its SSRC kept."""
    packets = listener.packets()
    if not packets:
        return None
    first = [packet for packet in packets if packet.ssrc == packets[0].ssrc]
    return first if len(first) >= HEARD_PACKETS else None


@pytest.mark.usefixtures("sipp")  # no SIPp run, but a failure then shows the server's log of the test
@pytest.mark.parametrize("keys", ["rfc4733", "info"])
def test_linphone_dials_the_voice_menu_by_name_and_rates(
    api: API, numbers: Numbers, server: QualityRateServer, tmp_path: Path, keys: str
) -> None:
    phone_name, password = numbers.extension(), new_password()
    api.create_phone(phone_name, password)
    ivr_name = numbers.extension()
    ivr = api.create_rating_ivr(ivr_name, max_rate=MAX_RATE)

    with running(Linphone(tmp_path / "linphone", phone_name, password, server.sip_address, keys=keys)) as phone:
        phone.wait_until_registered()
        since = datetime.now(timezone.utc)
        call = phone.call(ivr_name)
        phone.wait_for_call("LinphoneCallStreamsRunning", call)
        phone.send_audio(call)
        phone.press(str(KEY))
        # The menu plays its finish tone and hangs up: its BYE ends Linphone's call.
        phone.wait_for_call("LinphoneCallEnd", call, seconds=30)

    methods = [line.split()[0] for line in phone.requests_sent()]
    assert methods.count("INVITE") == 2, f"the INVITE, then again with credentials after the 407: {methods}"
    assert ("INFO" in methods) == (keys == "info"), f"the key as {keys}: Linphone sent {methods}"
    rating = api.the_rating(since, ivr)
    assert (rating["rate"], rating["extension_id"], rating["max_rate"]) == (KEY, ivr, MAX_RATE), rating
    assert rating["target"] == "call" and rating["agent_username"] is None, rating
    history = api.the_call_history(rating["call_uuid"])
    assert history["extension_id"] == ivr and history["did_number"] is None, history
    assert history["from_username"] == phone_name, history
