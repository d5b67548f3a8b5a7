"""SPEC §2.1 over the wire with SIPp on both sides: a trunk calls a DID routed to a queue whose
agent is a SIPp phone registered with digest authentication. When the agent hangs up first the
caller rates that agent, in the queue (`agent_hangup_action` = `quality_rate`) or in the voice
menu the queue transfers it to (`transfer`); when the caller hangs up first the server releases
the agent with a BYE and nothing is rated."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from harness import API, Numbers, Sipp, eventually, new_password
from media import RTPListener, pcap, rfc4733_key_packets

QUALITY_RATE_MAX = 5
KEY = 4
TRUNK_CALLER = "4940765432"

# The agent talks this long, then hangs up; the caller presses its key this long after its answer,
# well after the agent left and while the rating prompt plays (it is replayed for 3 tries).
TALK_MS = "1500"
KEY_DELAY_MS = "5000"


def test_agent_hangs_up_first_and_the_caller_rates_the_agent(api: API, numbers: Numbers, sipp: Sipp) -> None:
    agent_name, password = numbers.extension(), new_password()
    agent = api.create_phone(agent_name, password)
    queue = api.create_rating_queue(numbers.extension(), [agent], QUALITY_RATE_MAX)
    since = datetime.now(timezone.utc)
    agent_hangs_up_then_caller_presses_key(api, numbers, sipp, queue, agent_name, password)

    rating = api.the_rating(since, queue)
    assert (rating["rate"], rating["max_rate"], rating["extension_id"]) == (KEY, QUALITY_RATE_MAX, queue), rating
    assert_of_the_agent_who_hung_up(api, rating, agent_name, queue)


def test_agent_hangs_up_first_and_the_caller_rates_the_agent_in_the_menu_it_is_sent_to(
    api: API, numbers: Numbers, sipp: Sipp
) -> None:
    agent_name, password = numbers.extension(), new_password()
    agent = api.create_phone(agent_name, password)
    ivr_name = numbers.extension()
    ivr = api.create_rating_ivr(ivr_name, max_rate=9)
    queue = api.create_queue(numbers.extension(), [agent], agent_hangup_action="transfer",
                             agent_hangup_transfer_dst=ivr_name)
    since = datetime.now(timezone.utc)
    agent_hangs_up_then_caller_presses_key(api, numbers, sipp, queue, agent_name, password)

    rating = api.the_rating(since, ivr)
    assert (rating["rate"], rating["max_rate"], rating["extension_id"]) == (KEY, 9, ivr), rating
    assert api.ratings(since, queue) == [], "the queue itself rates nothing"
    assert_of_the_agent_who_hung_up(api, rating, agent_name, queue)


def test_the_response_rate_counts_the_callers_offered_a_rating_and_those_who_rated(
    api: API, numbers: Numbers, sipp: Sipp
) -> None:
    """Issue 10: two callers of one queue reach its rating prompt when their agent hangs up; the
    first presses a key, the second hangs up during the prompt. The statistics count both offers
    and one rating: a response rate of 50 %."""
    agent_name, password = numbers.extension(), new_password()
    agent = api.create_phone(agent_name, password)
    queue = api.create_rating_queue(numbers.extension(), [agent], QUALITY_RATE_MAX)
    since = datetime.now(timezone.utc)
    agent_hangs_up_then_caller_presses_key(api, numbers, sipp, queue, agent_name, password)
    api.the_rating(since, queue)

    # The agent hangs up after TALK_MS; the caller stays for the prompt, then leaves unrated.
    call_the_queue(api, numbers, sipp, queue, agent_name, password, ("agent_hangs_up.xml", {"talk_ms": TALK_MS}),
                   ("trunk_call_hangs_up.xml", {"talk_ms": KEY_DELAY_MS}))
    def both_calls() -> list[dict[str, Any]] | None:
        calls = [c for c in api.call_histories(since) if c["extension_id"] == queue]
        return calls if len(calls) == 2 else None
    calls = eventually("both calls' history", both_calls)
    assert {c["hangup_disposition"] for c in calls} == {"agent_hangup"}, calls

    [bucket] = api.statistics(since, queue)
    assert (bucket["count"], bucket["offered"], bucket["response_rate_percent"]) == (1, 2, 50.0), bucket
    assert bucket["count_per_key"] == {str(KEY): 1}, bucket


def test_caller_hangs_up_first_and_nothing_is_rated(api: API, numbers: Numbers, sipp: Sipp) -> None:
    agent_name, password = numbers.extension(), new_password()
    agent = api.create_phone(agent_name, password)
    queue = api.create_rating_queue(numbers.extension(), [agent], QUALITY_RATE_MAX)
    since = datetime.now(timezone.utc)
    # The agent's scenario requires the server's BYE once the caller has gone.
    call_the_queue(api, numbers, sipp, queue, agent_name, password, ("agent_hung_up_on.xml", {}),
                   ("trunk_call_hangs_up.xml", {"talk_ms": TALK_MS}))

    call = api.the_call_of(since, queue)
    assert call["bridged_username"] == agent_name, call
    assert call["hangup_disposition"] == "caller_hangup", call
    assert api.the_call_history(call["call_uuid"])["call_uuid"] == call["call_uuid"]
    assert api.ratings(since, queue) == [], "the caller hung up first: no rating may exist"
    assert api.statistics(since, queue) == [], "no rating prompt was offered"


def agent_hangs_up_then_caller_presses_key(api: API, numbers: Numbers, sipp: Sipp, queue: int, agent_name: str,
                                           password: str) -> None:
    """A trunk caller dials a new DID of `queue`; the agent (a SIPp phone registered as
    `agent_name`) answers, talks and hangs up first; the caller then presses KEY as RFC 4733."""
    call_the_queue(api, numbers, sipp, queue, agent_name, password, ("agent_hangs_up.xml", {"talk_ms": TALK_MS}),
                   ("trunk_call_rfc4733.xml", {"key_delay_ms": KEY_DELAY_MS}),
                   files={"key.pcap": pcap(rfc4733_key_packets(KEY, 101))})


def call_the_queue(api: API, numbers: Numbers, sipp: Sipp, queue: int, agent_name: str, password: str,
                   agent: tuple[str, dict[str, str]], caller: tuple[str, dict[str, str]],
                   files: dict[str, bytes] | None = None) -> None:
    """A trunk caller plays `caller` (a SIPp scenario and its keys) to a new DID of `queue`, whose
    agent, a SIPp phone registered as `agent_name`, plays `agent`; both scenarios must succeed."""
    did = numbers.did()
    api.create_did(did, queue)
    registration = sipp.register(agent_name, password)
    agent_phone = sipp.start(agent[0], "agent", port=registration.port, service=agent_name, keys=agent[1])
    listener = RTPListener()
    try:
        caller_run = sipp.start(
            caller[0], "caller",
            keys={"did": did, "caller": TRUNK_CALLER, "codecs": "0 8", "dtmf_pt": "101", "rtp_port": str(listener.port),
                  **caller[1]},
            files=files,
        )
        agent_phone.expect_success()
        caller_run.expect_success()
    finally:
        listener.close()


def assert_of_the_agent_who_hung_up(api: API, rating: dict[str, Any], agent_name: str, queue: int) -> None:
    """`rating` is of `agent_name`, and its call reached `queue`, was bridged to that agent, and
    ended with the agent hanging up first."""
    assert rating["agent_username"] == agent_name and rating["target"] == "agent", rating
    history = api.the_call_history(rating["call_uuid"])
    assert history["extension_id"] == queue, history
    assert history["bridged_username"] == agent_name, history
    assert history["hangup_disposition"] == "agent_hangup", history
