"""Issue 12's cluster on one machine: Kamailio running deploy/kamailio/cluster.cfg on 127.0.0.10
in front of three `qualityrate serve` nodes on 127.0.0.11–13, which share one PostgreSQL database
(a server of this module's own, Debian's package). Agents are SIPp phones registered through
Kamailio from behind NAT (as in test_kamailio.py): a REGISTER goes to any node, its
authenticated retry maybe to another, and every node rings an agent along the Path of its
binding. Callers are a SIPp trunk calling a round-robin rating queue through Kamailio, which
spreads the calls over the nodes.

What is checked, each through the SIP each party saw and the REST API:
- round-robin order is one across the nodes: consecutive callers served by different nodes get
  the queue's agents in turn;
- under concurrent load, calls reach every node; every call is rated exactly once, of the agent
  who answered and hung up; no agent is ever offered two calls at once (every INVITE each agent
  received, with its dialog's end); ratings and call history read the same through every node;
- a node killed with kill -9 during the load: new calls are served by the others within
  Kamailio's node timeout, the dispatcher stops choosing it, the agents its calls held are rung
  again once their claims' lease ends, and no rating confirmed to a caller is lost; started
  again, it is back in the rotation;
- PostgreSQL restarted during the load: the nodes reconnect by themselves, and the calls admitted
  after it are rated.

A rating is *confirmed* to a caller when the finish prompt plays: the server stores the rating
first (RatingCollector), then plays it. The queue's finish prompt is a 1 kHz tone here, which no
spoken prompt resembles; every caller's RTP goes to one listener, and a call's packets are those
from the node media address its 200 named while the call lasted.

Figures (calls per node, failover and reconnection times) are printed: run with `-s` to see them.
"""

from __future__ import annotations

import secrets
import time
import urllib.error
import urllib.request
from collections import Counter, defaultdict
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

from harness import (API, FailureReport, Numbers, PostgreSQL, QualityRateServer, Sipp, SippRun, eventually,
                     new_password, tone_wav)
from kamailio import ClusterKamailio
from media import RTPListener
from test_kamailio import header_values, nat_contact, register_behind_nat, uri_parts

KAMAILIO_HOST = "127.0.0.10"
NODE_HOSTS = ("127.0.0.11", "127.0.0.12", "127.0.0.13")
AGENTS = 6
QUALITY_RATE_MAX = 5
KEY = 4
# PostgresQueueState.claimLease: a claim a node stops renewing ends this long after its last renewal.
LEASE = timedelta(seconds=15)
# cluster.cfg's NODE_TIMEOUT: a node silent this long is given up for the next.
NODE_TIMEOUT = timedelta(seconds=2)
# The dispatcher probes every node each second (ds_ping_interval).
PROBE_INTERVAL = timedelta(seconds=1)
# The queues' finish prompt: a 1 kHz tone is 8 samples a period, so each 20 ms frame of it (160
# samples) is one 8-byte period 20 times over, a pattern neither speech nor silence has.
FINISH_TONE = tone_wav(milliseconds=1500, hertz=1000)
# PostgresStore.heartbeatLeaseSeconds and WriteProbeService.sweepInterval: a dead node's open
# calls are closed by the others once its heartbeat is this old, at their next sweep.
HEARTBEAT_LEASE = timedelta(seconds=30)
SWEEP_INTERVAL = timedelta(seconds=30)
# A free agent is rung by the next waiting caller within the queue's retry delay (1 s here) and a
# round of attempts; a caller arrives every second in the failure tests.
RING_AGAIN = timedelta(seconds=8)


@pytest.fixture(scope="module")
def postgres() -> Iterator[PostgreSQL]:
    server = PostgreSQL()
    try:
        server.start()
        yield server
    finally:
        server.remove()


@pytest.fixture(scope="module")
def nodes(postgres: PostgreSQL, tmp_path_factory: pytest.TempPathFactory) -> Iterator[list[QualityRateServer]]:
    """Three nodes on one database: `setup` once, then every node serves the client it made."""
    url = postgres.create_database("qualityrate")
    running = [QualityRateServer(tmp_path_factory.mktemp(f"node-{host}"), sip_host=host, trunk=f"{KAMAILIO_HOST}/32",
                                 database=url) for host in NODE_HOSTS]
    try:
        running[0].setup()
        for node in running:
            node.credentials = running[0].credentials
            node.serve()
        yield running
    finally:
        for node in running:
            node.stop()


@pytest.fixture(scope="module")
def kamailio(nodes: list[QualityRateServer], tmp_path_factory: pytest.TempPathFactory) -> Iterator[ClusterKamailio]:
    proxy = ClusterKamailio(tmp_path_factory.mktemp("kamailio-cluster"), nodes, KAMAILIO_HOST)
    try:
        proxy.start()
        yield proxy
    finally:
        proxy.stop()


@pytest.fixture(scope="module")
def apis(nodes: list[QualityRateServer]) -> list[API]:
    """The API of every node, for the client `setup` made."""
    return [API(node) for node in nodes]


@pytest.fixture
def sipp(nodes: list[QualityRateServer], kamailio: ClusterKamailio, postgres: PostgreSQL, tmp_path,
         failure_report: FailureReport) -> Iterator[Sipp]:
    """SIPp runs sending to Kamailio; a failing test shows them with every server's log."""
    launcher = Sipp(kamailio.sip_address, tmp_path / "sipp")
    failure_report.launchers.append(launcher)
    for node in nodes:
        failure_report.watch(f"qualityrate serve log of node {node.sip_host}", node)
    failure_report.watch("kamailio log", kamailio)
    failure_report.watch("postgresql log", postgres)
    try:
        yield launcher
    finally:
        launcher.stop_all()


# The tests.

def test_round_robin_order_is_one_across_the_nodes(apis: list[API], numbers: Numbers, sipp: Sipp,
                                                   kamailio: ClusterKamailio) -> None:
    """Callers one after another, each served by the next node: the queue's agents in turn. A
    rotation kept per node would give each node's first caller the first agent."""
    api = apis[0]
    queue = staffed_queue(api, numbers, sipp)
    agents = answering_agents(sipp, queue, talk_ms=1000, seconds=120)
    since = datetime.now(timezone.utc)
    listener = RTPListener()
    runs = []
    try:
        for turn in range(AGENTS + 1):
            runs.append(callers(sipp, queue, listener, count=1, label=f"caller-{turn + 1}"))
            # The next caller comes once this one has rated: its agent answered and hung up.
            eventually(f"the rating of caller {turn + 1}",
                       lambda: len(api.ratings(since, queue.id)) == turn + 1 or None, seconds=30)
        for run in runs:
            run.expect_success(seconds=30)
    finally:
        listener.close()
        stop(agents)

    calls = [call for run in runs for call in caller_calls(run)]
    served_by = [call.node for call in calls]
    print(f"\nround-robin: {len(calls)} callers in turn served by nodes {served_by}")
    assert len(set(served_by)) == len(NODE_HOSTS) and all(a != b for a, b in zip(served_by, served_by[1:])), (
        f"consecutive callers were to be served by different nodes (Kamailio's round-robin): {served_by}")
    offers = offers_by_agent(agents)
    spoke = agent_who_spoke(calls, offers)
    assert [spoke[call.number] for call in calls] == queue.agents + queue.agents[:1], (
        f"agents in ring order {queue.agents}; callers one after another got "
        f"{[(call.node, spoke[call.number]) for call in calls]}")
    assert_rated_once_each_of_the_agent_who_spoke(api, since, queue, calls, spoke)


def test_concurrent_calls_over_three_nodes_are_rated_once_each_of_the_agent_who_spoke(
    apis: list[API], numbers: Numbers, sipp: Sipp, kamailio: ClusterKamailio
) -> None:
    count, talk_ms = 48, 2000
    api = apis[0]
    queue = staffed_queue(api, numbers, sipp)
    agents = answering_agents(sipp, queue, talk_ms=talk_ms, seconds=180)
    since = datetime.now(timezone.utc)
    listener = RTPListener()
    try:
        # Two a second for 24 s, each talking 2 s to its agent then rating: some ten calls up at
        # once over the three nodes, each agent's turn coming every 3 s.
        run = callers(sipp, queue, listener, count=count, rate=2, seconds=150)
        run.expect_success(seconds=160)
    finally:
        listener.close()
        stop(agents)

    calls = caller_calls(run)
    assert len(calls) == count and all(call.answered for call in calls), [call for call in calls if not call.answered]
    per_node = Counter(call.node for call in calls)
    print(f"\nconcurrent load: {count} calls, per node {dict(sorted(per_node.items()))}")
    assert set(per_node) == set(NODE_HOSTS), f"every node was to serve calls: {dict(per_node)}"

    offers = offers_by_agent(agents)
    assert_no_agent_offered_two_calls_at_once(offers)
    spoke = agent_who_spoke(calls, offers)
    assert_rated_once_each_of_the_agent_who_spoke(api, since, queue, calls, spoke)
    # Every caller heard the finish prompt after its key (what the failure tests count as a
    # confirmed rating).
    unconfirmed = [call.number for call in calls if not rating_confirmed(call, listener)]
    assert not unconfirmed, f"callers who rated and heard no confirmation: {unconfirmed}"
    # Round-robin across the nodes: each agent's turn comes once it is free again, so the
    # answers cycle through the six evenly (two calls at once on two nodes may swap a turn).
    # Turns restarting from the top while the last agent talks, or kept per node, do not.
    answered = Counter(spoke.values())
    print(f"calls answered per agent: {dict(answered)}")
    assert set(answered) == set(queue.agents) and max(answered.values()) - min(answered.values()) <= 1, (
        f"each agent was to answer {count // AGENTS} of the {count} calls, in turn: {dict(answered)}")
    assert_the_same_through_every_node(apis, since, queue)


def test_a_node_killed_during_the_load(apis: list[API], numbers: Numbers, sipp: Sipp, kamailio: ClusterKamailio,
                                       nodes: list[QualityRateServer]) -> None:
    count, talk_ms = 40, 2000
    victim = nodes[1]
    survivors = [node for node in nodes if node is not victim]
    api = apis[0]
    queue = staffed_queue(api, numbers, sipp)
    agents = answering_agents(sipp, queue, talk_ms=talk_ms, seconds=180)
    since = datetime.now(timezone.utc)
    listener = RTPListener()
    try:
        run = callers(sipp, queue, listener, count=count, rate=1, seconds=150)
        # A third of the way in, each node holds calls in every state.
        eventually("ratings of the first calls", lambda: len(api.ratings(since, queue.id)) >= 8 or None, seconds=60)
        victim.kill()
        killed = datetime.now()
        killed_clock = time.monotonic()
        # One caller per node at once, before Kamailio can know (its probes wait NODE_TIMEOUT):
        # round-robin sends one of them to the dead node, whose silence must send it on.
        burst = callers(sipp, queue, listener, count=len(NODE_HOSTS), label="callers-at-the-kill", seconds=150)
        # Its probes go unanswered (or a call's INVITE does): out of the rotation.
        eventually("Kamailio taking the killed node out of service",
                   lambda: kamailio.node_states().get(victim.sip_address, "").startswith("I") or None,
                   seconds=(NODE_TIMEOUT + PROBE_INTERVAL + timedelta(seconds=1)).total_seconds())
        out_of_service = time.monotonic() - killed_clock
        run.wait(seconds=160)
        burst.wait(seconds=30)
    finally:
        listener.close()
        stop(agents)

    calls = sorted(caller_calls(run) + caller_calls(burst), key=lambda call: call.invited)
    assert len(calls) == count + len(NODE_HOSTS), f"SIPp placed {len(calls)} of {count + len(NODE_HOSTS)} calls"
    after = [call for call in calls if call.invited > killed]
    late = [call for call in after if not call.answered or call.node == victim.sip_host
            or call.answered - call.invited > NODE_TIMEOUT + timedelta(seconds=1)]
    assert not late, ("every call placed after the kill was to be answered by a live node within "
                      f"{(NODE_TIMEOUT + timedelta(seconds=1)).total_seconds():.0f} s: {late}")
    failover = max(call.answered - call.invited for call in after)
    # (Kamailio's timers tick coarsely: a tenth of slack.)
    assert failover >= NODE_TIMEOUT * 0.9, (
        f"a call placed at the kill was to wait for the dead node's silence, then go on: the longest took {failover}")
    first_served = min(call.answered for call in after)
    per_node = Counter(call.node for call in calls if call.answered)
    print(f"\nkill -9 of node {victim.sip_host}: {count} calls, per node {dict(sorted(per_node.items()))}; "
          f"out of Kamailio's rotation {out_of_service:.1f} s after the kill; longest INVITE-to-answer after it "
          f"{failover.total_seconds():.2f} s; first call after it answered "
          f"{(first_served - killed).total_seconds():.2f} s after the kill")

    offers = offers_by_agent(agents)
    assert_no_agent_offered_two_calls_at_once(offers, killed={victim.sip_host: killed})
    # Every agent is rung again, those the dead node's calls held once their claims' lease is over.
    held = {offer.agent for offer in sum(offers.values(), []) if offer.node == victim.sip_host
            and offer.offered < killed < offer.ended + timedelta(seconds=1)}
    again = {agent: min((offer.offered for offer in offers[agent] if offer.offered > killed), default=None)
             for agent in queue.agents}
    print("agents rung again after the kill (s): "
          + ", ".join(f"{agent}{' (held by the killed node)' if agent in held else ''} "
                      f"{(moment - killed).total_seconds():.1f}" if moment else f"{agent} never"
                      for agent, moment in again.items()))
    stuck = {agent: moment for agent, moment in again.items() if moment is None or moment > killed + LEASE + RING_AGAIN}
    assert not stuck, (f"every agent was to be rung again within the {LEASE.total_seconds():.0f} s lease and "
                       f"{RING_AGAIN.total_seconds():.0f} s of the kill: {stuck} (held by the killed node: {held})")

    # Started again, the node answers its probes and is back in the rotation.
    restarted = time.monotonic()
    victim.serve()
    eventually("the restarted node back in Kamailio's rotation",
               lambda: kamailio.node_states().get(victim.sip_address, "").startswith("A") or None, seconds=15)
    print(f"node {victim.sip_host} restarted and back in service after {time.monotonic() - restarted:.1f} s")
    for node in survivors:
        assert node.process is not None and node.process.poll() is None, f"node {node.sip_host} exited"

    # The calls the killed node had up are closed by the others (`system`) once its heartbeat is
    # HEARTBEAT_LEASE old, at their next sweep (one it answered as it died may have left none).
    cut = [call for call in calls if call.node == victim.sip_host and not (call.hung_up_on and call.hung_up_on < killed)]
    finished = [call for call in calls if call not in cut]
    outcomes = call_outcomes(api, since, queue, calls, settle=finished,
                             seconds=(HEARTBEAT_LEASE + SWEEP_INTERVAL + timedelta(seconds=10)).total_seconds())
    not_closed = {call.number: outcomes[call.number][0] for call in cut
                  if outcomes[call.number][0] and outcomes[call.number][0]["hangup_disposition"] != "system"}
    assert not not_closed, f"the killed node's calls were to be closed as `system`: {not_closed}"
    assert_each_call_rated_at_most_once(outcomes)
    spoke = agent_who_spoke(calls, offers)
    # Calls of the living nodes, and those the dead one finished before it died: rated, once.
    assert_rated_once_each_of_the_agent_who_spoke(api, since, queue, finished, spoke, outcomes)
    confirmed = [call for call in calls if rating_confirmed(call, listener)]
    lost = [call.number for call in confirmed if not outcomes[call.number][1]]
    assert not lost, f"ratings confirmed to callers (their finish prompt played) are missing: {lost}"
    print(f"{len(cut)} calls cut by the kill; {len(confirmed)} ratings confirmed to callers, all stored; "
          f"{sum(1 for call in calls if outcomes[call.number][1])} ratings in all")


def test_postgresql_restarted_during_the_load(apis: list[API], numbers: Numbers, sipp: Sipp,
                                              kamailio: ClusterKamailio, nodes: list[QualityRateServer],
                                              postgres: PostgreSQL) -> None:
    count, talk_ms = 36, 2000
    api = apis[0]
    queue = staffed_queue(api, numbers, sipp)
    agents = answering_agents(sipp, queue, talk_ms=talk_ms, seconds=180)
    since = datetime.now(timezone.utc)
    listener = RTPListener()
    try:
        run = callers(sipp, queue, listener, count=count, rate=1, seconds=150)
        eventually("ratings of the first calls", lambda: len(api.ratings(since, queue.id)) >= 6 or None, seconds=60)
        postgres.stop()
        stopped = time.monotonic()
        # Every node notices: it answers Kamailio's probes 503 and is taken out of the rotation
        # (new calls are refused meanwhile), and its /health says so.
        eventually("every node out of Kamailio's rotation with PostgreSQL stopped",
                   lambda: all(state.startswith("I") for state in kamailio.node_states().values()) or None, seconds=15)
        with ThreadPoolExecutor(len(nodes)) as pool:
            unhealthy = dict(zip(NODE_HOSTS, pool.map(health, nodes)))
        assert set(unhealthy.values()) == {503}, f"/health of each node with PostgreSQL stopped: {unhealthy}"
        postgres.start()
        started = time.monotonic()
        eventually("every node's /health 200 again", lambda: all(health(node) == 200 for node in nodes) or None,
                   seconds=60)
        reconnected = time.monotonic() - started
        eventually("every node back in Kamailio's rotation",
                   lambda: all(state.startswith("A") for state in kamailio.node_states().values()) or None, seconds=15)
        in_service = datetime.now()
        back = time.monotonic() - started
        run.wait(seconds=160)
    finally:
        listener.close()
        stop(agents)
    print(f"\nPostgreSQL restart: down {started - stopped:.1f} s; every node healthy {reconnected:.1f} s and back "
          f"in Kamailio's rotation {back:.1f} s after PostgreSQL started again")

    calls = caller_calls(run)
    assert len(calls) == count, f"SIPp placed {len(calls)} of {count} calls"
    admitted = [call for call in calls if call.invited > in_service]
    assert admitted, "no call was placed once the nodes were back in service"
    not_served = [call for call in admitted if not call.answered]
    assert not not_served, f"calls placed once the nodes were back were to be answered: {not_served}"
    print(f"{len(admitted)} calls admitted after the restart, per node {dict(Counter(call.node for call in admitted))}")
    offers = offers_by_agent(agents)
    assert_no_agent_offered_two_calls_at_once(offers)
    outcomes = call_outcomes(api, since, queue, calls, settle=admitted)
    assert_each_call_rated_at_most_once(outcomes)
    spoke = agent_who_spoke(calls, offers)
    assert_rated_once_each_of_the_agent_who_spoke(api, since, queue, admitted, spoke, outcomes)
    lost = [call.number for call in calls if rating_confirmed(call, listener) and not outcomes[call.number][1]]
    assert not lost, f"ratings confirmed to callers (their finish prompt played) are missing: {lost}"
    # No claim outlives the restart: every agent takes calls again.
    rung = {agent for agent, found in offers.items() if any(offer.offered > in_service for offer in found)}
    assert rung == set(queue.agents), f"agents never rung after the restart: {sorted(set(queue.agents) - rung)}"


# The queue and its agents.

@dataclass
class Queue:
    id: int
    did: str
    # Agent names, in the queue's ring order.
    agents: list[str]
    # Each agent's registration through Kamailio (its port is the phone's).
    registrations: dict[str, SippRun]


def staffed_queue(api: API, numbers: Numbers, sipp: Sipp) -> Queue:
    """A round-robin queue rating its agents (`quality_rate` when the agent hangs up first, then
    FINISH_TONE), on a DID of its own, with AGENTS phones registered through Kamailio from behind NAT. A caller
    waits while every agent talks (not `exit_with_no_av_agents`), 1 s between rounds
    (`retry_delay`), so a freed agent is rung at once."""
    names = [numbers.extension() for _ in range(AGENTS)]
    passwords = {name: new_password() for name in names}
    ids = [api.create_phone(name, passwords[name]) for name in names]
    finish = api.upload_sound("finish tone", FINISH_TONE)
    queue = api.create_queue(numbers.extension(), ids, strategy="round-robin", agent_hangup_action="quality_rate",
                             quality_rate_max=QUALITY_RATE_MAX, quality_rate_finish_sound=finish, ring_timeout=5, retry_delay=1,
                             exit_with_no_av_agents=False)
    did = numbers.did()
    api.create_did(did, queue)
    registrations = {name: register_behind_nat(sipp, name, passwords[name]) for name in names}
    return Queue(queue, did, names, registrations)


def answering_agents(sipp: Sipp, queue: Queue, talk_ms: int, seconds: int) -> dict[str, SippRun]:
    """Each agent's phone, from where it registered: it answers every call it is offered, talks
    `talk_ms` and hangs up first (nat_phone_hangs_up.xml, one SIPp call per INVITE)."""
    return {name: sipp.start("nat_phone_hangs_up.xml", f"agent-{name}", port=registration.port, service=name,
                             keys={"talk_ms": str(talk_ms), "contact": nat_contact(registration.port)},
                             calls=1000, seconds=seconds)
            for name, registration in queue.registrations.items()}


def stop(agents: dict[str, SippRun]) -> None:
    for run in agents.values():
        run.stop()


def callers(sipp: Sipp, queue: Queue, listener: RTPListener, count: int, rate: int | None = None,
            label: str = "callers", seconds: int = 60) -> SippRun:
    """`count` trunk callers of the queue (queue_caller_keys_until_bye.xml), `rate` a second, each
    with a number of its own, their RTP to `listener`."""
    prefix = f"4940{secrets.randbelow(900000) + 100000}"
    return sipp.start("queue_caller_keys_until_bye.xml", label, calls=count, rate=rate, seconds=seconds,
                      keys={"did": queue.did, "caller_prefix": prefix, "rtp_port": str(listener.port), "key": str(KEY)})


# What the SIPp runs saw.

def dialogs(run: SippRun) -> dict[str, list[tuple[datetime, str, str]]]:
    """The messages of `run` by Call-ID, in order: when, "sent" or "received", the message."""
    found: dict[str, list[tuple[datetime, str, str]]] = defaultdict(list)
    for moment, direction, message in run.exchanged():
        message = message.replace("\r\n", "\n")
        found[header_values(message, "Call-ID")[0]].append((moment, direction, message))
    return found


def cseq_method(message: str) -> str:
    return header_values(message, "CSeq")[0].split()[-1]


def user_and_host(name_addr: str) -> tuple[str, str]:
    """The user and host of the SIP URI in a From, To or Contact value (display name or not)."""
    address = uri_parts(name_addr[name_addr.find("<"):] if "<" in name_addr else name_addr)[0]
    user, _, host_port = address.rpartition("@")
    return user, host_port.rpartition(":")[0] or host_port


@dataclass
class CallerCall:
    """One trunk caller's call, as its SIPp saw it."""

    number: str
    call_id: str
    invited: datetime
    # The node's 200: when, which node (its Contact's host), and the node's RTP address (its SDP).
    answered: datetime | None
    node: str | None
    media: tuple[str, int] | None
    # The node's BYE: after the finish prompt, or when the rating could not be taken.
    hung_up_on: datetime | None
    ended: datetime


def caller_calls(run: SippRun) -> list[CallerCall]:
    calls = []
    for call_id, messages in dialogs(run).items():
        invites = [(moment, m) for moment, way, m in messages if way == "sent" and m.startswith("INVITE ")]
        if not invites:
            continue
        invited, invite = invites[0]
        answered = node = media = hung_up_on = None
        for moment, way, message in messages:
            if answered is None and way == "received" and message.startswith("SIP/2.0 200") \
                    and cseq_method(message) == "INVITE":
                answered = moment
                node = user_and_host(header_values(message, "Contact")[0])[1]
                body = message.partition("\n\n")[2]
                connection = next(line.split()[-1] for line in body.splitlines() if line.startswith("c="))
                port = next(int(line.split()[1]) for line in body.splitlines() if line.startswith("m=audio "))
                media = (connection, port)
            if hung_up_on is None and way == "received" and message.startswith("BYE "):
                hung_up_on = moment
        number = user_and_host(header_values(invite, "From")[0])[0]
        calls.append(CallerCall(number, call_id, invited, answered, node, media, hung_up_on, messages[-1][0]))
    return sorted(calls, key=lambda call: call.invited)


@dataclass
class Offer:
    """A call offered to an agent, as its phone saw it."""

    agent: str
    call_id: str
    # The trunk caller's number (the INVITE's From) and the node that rang (its Contact's host).
    caller: str
    node: str
    offered: datetime
    # The phone answered (200) and the node acknowledged it (ACK).
    answered: bool
    # The phone hung up first (its BYE).
    hung_up: bool
    # The end of the agent's part: its BYE, the node's BYE or CANCEL, else its last message.
    ended: datetime


def offers_by_agent(agents: dict[str, SippRun]) -> dict[str, list[Offer]]:
    found: dict[str, list[Offer]] = {}
    for agent, run in agents.items():
        found[agent] = []
        for call_id, messages in dialogs(run).items():
            invites = [(moment, m) for moment, way, m in messages if way == "received" and m.startswith("INVITE ")]
            if not invites:
                continue
            offered, invite = invites[0]
            answered = any(way == "sent" and m.startswith("SIP/2.0 200") and cseq_method(m) == "INVITE"
                           for _, way, m in messages) and any(way == "received" and m.startswith("ACK ")
                                                               for _, way, m in messages)
            ends = [moment for moment, way, m in messages
                    if (way == "sent" and m.startswith("BYE ")) or (way == "received" and m.startswith(("BYE ", "CANCEL ")))]
            hung_up = any(way == "sent" and m.startswith("BYE ") for _, way, m in messages)
            found[agent].append(Offer(agent, call_id, user_and_host(header_values(invite, "From")[0])[0],
                                      user_and_host(header_values(invite, "Contact")[0])[1], offered, answered, hung_up,
                                      min(ends, default=messages[-1][0])))
    return found


def agent_who_spoke(calls: list[CallerCall], offers: dict[str, list[Offer]]) -> dict[str, str]:
    """For each caller's number, the one agent who answered its call and hung up first."""
    spoke: dict[str, list[str]] = defaultdict(list)
    for found in offers.values():
        for offer in found:
            if offer.answered and offer.hung_up:
                spoke[offer.caller].append(offer.agent)
    several = {number: agents for number, agents in spoke.items() if len(agents) > 1}
    assert not several, f"callers answered by more than one agent: {several}"
    return {call.number: spoke[call.number][0] for call in calls if call.number in spoke}


def rating_confirmed(call: CallerCall, listener: RTPListener) -> bool:
    """Whether the caller heard its rating confirmed: the finish tone came from its node's media
    address while the call lasted."""
    if call.answered is None or call.media is None:
        return False
    return any(packet.source == call.media and call.answered <= moment <= call.ended + timedelta(seconds=1)
               and is_finish_tone(packet.payload) for moment, packet in listener.arrivals())


def is_finish_tone(payload: bytes) -> bool:
    """A 20 ms G.711 frame of FINISH_TONE: one period of 8 samples 20 times (and not silence,
    which repeats one byte)."""
    return len(payload) == 160 and payload == payload[:8] * 20 and len(set(payload)) >= 4


def assert_no_agent_offered_two_calls_at_once(offers: dict[str, list[Offer]],
                                              killed: dict[str, datetime] | None = None) -> None:
    """Each agent's offers, from its INVITE to the end of its part, never overlap. `killed`
    names nodes killed, and when: an offer of theirs the agent answered but that was never
    acknowledged ended with the node (the phone only waits for an ACK that cannot come); one the
    agent talked in lasts until the agent hung up, as the node's claim on the agent does."""
    for agent, found in offers.items():
        busy_until: tuple[datetime, Offer] | None = None
        for offer in sorted(found, key=lambda offer: offer.offered):
            end = offer.ended if offer.answered else min(offer.ended, (killed or {}).get(offer.node, offer.ended))
            if busy_until is not None:
                assert offer.offered >= busy_until[0], (
                    f"agent {agent} was offered caller {offer.caller}'s call (node {offer.node}) at {offer.offered} "
                    f"while still in caller {busy_until[1].caller}'s (node {busy_until[1].node}) until {busy_until[0]}")
            if busy_until is None or end > busy_until[0]:
                busy_until = (end, offer)


# What the API says.

def call_outcomes(api: API, since: datetime, queue: Queue, calls: list[CallerCall], settle: list[CallerCall],
                  seconds: float = 30) -> dict[str, tuple[dict[str, Any] | None, list[dict[str, Any]]]]:
    """For each caller's number: its call history (None: none written) and the ratings of its
    call. Waits until the calls in `settle` have their history, and every rating its call's (a
    rated call was recorded from its answer on: its history comes, closed by another node if
    its own died)."""
    wanted = {call.number for call in settle}
    histories: dict[str, dict[str, Any]] = {}
    ratings: list[dict[str, Any]] = []

    def unexplained() -> list[dict[str, Any]]:
        known = {history["call_uuid"] for history in histories.values()}
        return [rating for rating in ratings if rating["call_uuid"] not in known]

    def settled() -> bool | None:
        histories.clear()
        histories.update((history["from_username"], history) for history in api.call_histories(since)
                         if history["extension_id"] == queue.id)
        ratings[:] = api.ratings(since, queue.id)
        return (wanted <= set(histories) and not unexplained()) or None

    try:
        eventually(f"the call history of {len(wanted)} calls and of every rated call", settled, seconds=seconds)
    except AssertionError as missing:
        raise AssertionError(f"{missing}: no history of {[call for call in settle if call.number not in histories]}; "
                             f"ratings of no caller's call: {unexplained()}") from None
    by_call: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for rating in ratings:
        by_call[rating["call_uuid"]].append(rating)
    return {call.number: (histories.get(call.number),
                          by_call[histories[call.number]["call_uuid"]] if call.number in histories else [])
            for call in calls}


def assert_each_call_rated_at_most_once(outcomes: dict[str, tuple[dict[str, Any] | None, list[dict[str, Any]]]]) -> None:
    twice = {number: ratings for number, (_, ratings) in outcomes.items() if len(ratings) > 1}
    assert not twice, f"calls rated more than once: {twice}"


def assert_rated_once_each_of_the_agent_who_spoke(
    api: API, since: datetime, queue: Queue, calls: list[CallerCall], spoke: dict[str, str],
    outcomes: dict[str, tuple[dict[str, Any] | None, list[dict[str, Any]]]] | None = None,
) -> None:
    """Each of `calls` was rated exactly once, KEY of QUALITY_RATE_MAX, of the agent who answered
    it and hung up first, and its call history says the same agent and that the agent hung up."""
    outcomes = outcomes or call_outcomes(api, since, queue, calls, settle=calls)
    for call in calls:
        history, ratings = outcomes[call.number]
        assert call.number in spoke, f"no agent answered and hung up caller {call.number}'s call: {call}"
        assert history is not None, f"no call history of caller {call.number}: {call}"
        assert len(ratings) == 1, f"caller {call.number}'s call is rated {len(ratings)} times: {ratings} {history}"
        rating = ratings[0]
        assert (rating["rate"], rating["max_rate"], rating["agent_username"], rating["target"]) == (
            KEY, QUALITY_RATE_MAX, spoke[call.number], "agent"), (
            f"caller {call.number} spoke to {spoke[call.number]}: {rating}")
        assert (history["bridged_username"], history["hangup_disposition"]) == (spoke[call.number], "agent_hangup"), (
            f"caller {call.number} spoke to {spoke[call.number]}: {history}")


def assert_the_same_through_every_node(apis: list[API], since: datetime, queue: Queue) -> None:
    """Every node's API lists the same ratings and call history (one database, no node's cache)."""
    ratings = [api.ratings(since, queue.id) for api in apis]
    histories = [sorted((h for h in api.call_histories(since) if h["extension_id"] == queue.id),
                        key=lambda h: h["call_uuid"]) for api in apis]
    for host, other_ratings, other_histories in zip(NODE_HOSTS[1:], ratings[1:], histories[1:]):
        assert other_ratings == ratings[0], f"node {host} lists other ratings than node {NODE_HOSTS[0]}"
        assert other_histories == histories[0], f"node {host} lists another call history than node {NODE_HOSTS[0]}"


def health(node: QualityRateServer) -> int | None:
    """The node's `/health` status, None when it does not answer (it gives the database 5 s)."""
    try:
        with urllib.request.urlopen(f"{node.base_url}/health", timeout=10) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code
    except OSError:
        return None
