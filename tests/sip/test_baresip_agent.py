"""The queue call of test_queue_rating.py with baresip 1.0.0 as the agent's phone: it registers
with digest authentication, answers automatically, and hangs up a moment after the call is
established (a `hangup` command on its ctrl_tcp interface); the SIPp caller then rates it."""

from __future__ import annotations

import time
from datetime import datetime, timezone
from pathlib import Path

from harness import API, Baresip, Numbers, QualityRateServer, Sipp, new_password
from media import RTPListener, pcap, rfc4733_key_packets
from test_queue_rating import assert_of_the_agent_who_hung_up

QUALITY_RATE_MAX = 7
KEY = 4
TRUNK_CALLER = "4940555000"
KEY_DELAY_MS = "6000"  # well after baresip hung up (about 2 s after its answer)


def test_baresip_agent_hangs_up_first_and_the_caller_rates_it(
    api: API, numbers: Numbers, sipp: Sipp, server: QualityRateServer, tmp_path: Path
) -> None:
    agent_name, password = numbers.extension(), new_password()
    agent = api.create_phone(agent_name, password)
    queue = api.create_rating_queue(numbers.extension(), [agent], QUALITY_RATE_MAX)
    did = numbers.did()
    api.create_did(did, queue)

    phone = Baresip(tmp_path / "baresip", agent_name, password, server.sip_address)
    listener = RTPListener()
    try:
        phone.start()
        phone.wait_until_registered()
        since = datetime.now(timezone.utc)
        caller = sipp.start(
            "trunk_call_rfc4733.xml", "caller",
            keys={"did": did, "caller": TRUNK_CALLER, "codecs": "0 8", "dtmf_pt": "101", "rtp_port": str(listener.port),
                  "key_delay_ms": KEY_DELAY_MS},
            files={"key.pcap": pcap(rfc4733_key_packets(KEY, 101))},
        )
        phone.wait_for_event("CALL_ESTABLISHED")
        time.sleep(1.5)  # a short conversation
        phone.command("hangup")
        phone.wait_for_event("CALL_CLOSED")
        caller.expect_success()
    except AssertionError as failure:
        raise AssertionError(f"{failure}\n{phone.report()}") from None
    finally:
        listener.close()
        phone.stop()

    rating = api.the_rating(since, queue)
    assert (rating["rate"], rating["max_rate"], rating["extension_id"]) == (KEY, QUALITY_RATE_MAX, queue), rating
    assert_of_the_agent_who_hung_up(api, rating, agent_name, queue)
