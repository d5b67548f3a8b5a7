"""QualityRate behind Kamailio running deploy/kamailio/kamailio.cfg, as operators deploy it:
phones register through Kamailio, which adds a Path carrying the address each REGISTER came
from (RFC 3327); trunks call through it; QualityRate's requests to a phone come back through it
with that Path as their Route (RFC 3327 §5.4), and Kamailio routes them by that Route alone (it
keeps no registrations); every INVITE is record-routed, so the rest of each dialog passes through
Kamailio too (RFC 3261 §16.6, §12.1).

The phones register with a Contact where nothing listens, as a phone behind NAT names its private
address: they can be reached only where their REGISTER came from. SIPp (trunk and phones) runs on
127.0.0.1, Kamailio on 127.0.0.20, and this module's own QualityRate on 127.0.0.30 with
`--trunk 127.0.0.20/32` (the session's server takes trunk calls from 127.0.0.1 only)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone

import pytest

from harness import (API, DOMAIN, FailureReport, Numbers, QualityRateServer, Sipp, SippRun, eventually, free_port,
                     new_password)
from kamailio import Kamailio
from media import RTPListener, rfc4733_key_packets
from test_queue_rating import assert_of_the_agent_who_hung_up

KAMAILIO_HOST = "127.0.0.20"
QUALITYRATE_HOST = "127.0.0.30"
# The address a phone behind NAT puts in its Contact. Nothing listens there, so a request sent to
# the Contact instead of where the phone registered from is lost and the test fails.
NAT_CONTACT_HOST = "127.0.0.99"

TRUNK_CALLER = "4940111222"
QUALITY_RATE_MAX = 5
KEY = 4
# The caller's offer: PCMU and PCMA, telephone-event on 101.
OFFER = {"caller": TRUNK_CALLER, "codecs": "0 8", "dtmf_pt": "101"}
# The agent of the rated queue call talks this long before hanging up.
TALK_SECONDS = 45
# A caller hanging up must release the agent within this time.
RELEASE_SECONDS = 3


@pytest.fixture(scope="module")
def qualityrate(tmp_path_factory: pytest.TempPathFactory) -> Iterator[QualityRateServer]:
    running = QualityRateServer(tmp_path_factory.mktemp("qualityrate-behind-kamailio"), sip_host=QUALITYRATE_HOST,
                                trunk=f"{KAMAILIO_HOST}/32")
    try:
        running.start()
        yield running
    finally:
        running.stop()


@pytest.fixture(scope="module")
def kamailio(qualityrate: QualityRateServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Kamailio]:
    proxy = Kamailio(tmp_path_factory.mktemp("kamailio"), qualityrate, KAMAILIO_HOST)
    try:
        proxy.start()
        yield proxy
    finally:
        proxy.stop()


@pytest.fixture(scope="module")
def api(qualityrate: QualityRateServer) -> API:
    """This module's server's API (in place of the session server's)."""
    return API(qualityrate)


@pytest.fixture
def sipp(qualityrate: QualityRateServer, kamailio: Kamailio, tmp_path,
         failure_report: FailureReport) -> Iterator[Sipp]:
    """SIPp runs sending to Kamailio; a failing test shows them with both servers' logs."""
    launcher = Sipp(kamailio.sip_address, tmp_path / "sipp")
    failure_report.launchers.append(launcher)
    failure_report.watch("qualityrate serve log", qualityrate)
    failure_report.watch("kamailio log", kamailio)
    try:
        yield launcher
    finally:
        launcher.stop_all()


def test_a_phone_registered_through_kamailio_is_called_along_its_path(
    api: API, numbers: Numbers, sipp: Sipp, kamailio: Kamailio
) -> None:
    name, password = numbers.extension(), new_password()
    phone = api.create_phone(name, password)
    did = numbers.did()
    api.create_did(did, phone)
    kamailio_log = kamailio.log_size()
    registration = register_behind_nat(sipp, name, password)

    # RFC 3327 §5.3: the registrar copies the Path into its 200, the phone having said it
    # supports Path. Kamailio's Path URI names itself, loose routing, and the phone's source.
    _, ok = first(registration, "received", "SIP/2.0 200")
    paths = header_values(ok, "Path")
    assert paths, f"QualityRate's 200 to the REGISTER carries no Path (RFC 3327 §5.3):\n{ok}"
    path = uri_parts(paths[0])
    assert path == (kamailio.sip_address, {"lr": "", "received": f"sip:127.0.0.1:{registration.port}"}), paths

    phone_call = sipp.start("nat_phone_hangs_up.xml", "phone", port=registration.port, service=name,
                            keys={"talk_ms": "2000", "contact": nat_contact(registration.port)})
    since = datetime.now(timezone.utc)
    listener = RTPListener()
    try:
        caller = sipp.start("trunk_call_until_bye.xml", "caller", keys={**OFFER, "did": did, "rtp_port": str(listener.port)})
        phone_call.expect_success()
        caller.expect_success()
    finally:
        listener.close()

    # QualityRate sent its INVITE with the Path as Route (RFC 3327 §5.4): Kamailio logs the Route
    # of each initial request from QualityRate, and refuses one without (nothing else could have
    # reached the phone, whose Contact is unreachable).
    routes = re.findall(r"initial INVITE from QualityRate to (\S+) with Route (<[^>]*>)", kamailio.log_since(kamailio_log))
    assert [(uri_parts(request_uri)[0], uri_parts(route)) for request_uri, route in routes] == [
        (f"{name}@{nat_contact(registration.port)}", path)
    ], routes
    # The INVITE came through Kamailio, which record-routed it (RFC 3261 §16.6 step 4).
    _, invite = first(phone_call, "received", "INVITE ")
    assert via_sent_by(header_values(invite, "Via")[0]) == kamailio.sip_address, invite
    assert [uri_parts(route) for route in header_values(invite, "Record-Route")] == [
        (kamailio.sip_address, {"lr": ""})
    ], invite
    # QualityRate's 200 to the caller carries the Record-Route of its INVITE (RFC 3261 §12.1.1),
    # so the caller's requests in the dialog go through Kamailio; none was refused there.
    _, answer = first(caller, "received", "SIP/2.0 200")
    assert [uri_parts(route) for route in header_values(answer, "Record-Route")] == [
        (kamailio.sip_address, {"lr": ""})
    ], answer
    assert refusals(kamailio, kamailio_log) == []

    call = api.the_call_of(since, phone)
    assert (call["bridged_username"], call["hangup_disposition"]) == (name, "agent_hangup"), call


def rating_queue_with_an_agent_behind_kamailio(api: API, numbers: Numbers, sipp: Sipp) -> tuple[str, int, str, SippRun]:
    """A rating queue on a DID of its own, its one agent registered through Kamailio from behind
    NAT: the agent's name, the queue's id, the DID and the registration's SIPp run."""
    agent_name, password = numbers.extension(), new_password()
    agent = api.create_phone(agent_name, password)
    queue = api.create_rating_queue(numbers.extension(), [agent], QUALITY_RATE_MAX)
    did = numbers.did()
    api.create_did(did, queue)
    return agent_name, queue, did, register_behind_nat(sipp, agent_name, password)


def test_a_queue_call_through_kamailio_is_rated_of_the_agent_who_hung_up(
    api: API, numbers: Numbers, sipp: Sipp, kamailio: Kamailio
) -> None:
    kamailio_log = kamailio.log_size()
    agent_name, queue, did, registration = rating_queue_with_an_agent_behind_kamailio(api, numbers, sipp)
    run_seconds = TALK_SECONDS + 60
    agent_phone = sipp.start("nat_phone_hangs_up.xml", "agent", port=registration.port, service=agent_name,
                             keys={"talk_ms": str(TALK_SECONDS * 1000), "contact": nat_contact(registration.port)},
                             seconds=run_seconds)
    since = datetime.now(timezone.utc)
    listener = RTPListener()
    try:
        caller = sipp.start("trunk_call_until_bye.xml", "caller", keys={**OFFER, "did": did, "rtp_port": str(listener.port)},
                            seconds=run_seconds)
        agent_phone.expect_success(seconds=run_seconds)
        # The agent's BYE has been answered: what the caller hears from now on is the rating
        # prompt, and the key goes where it comes from, as RFC 4733 from the offered port.
        heard_before = len(listener.packets())
        prompt = eventually("the rating prompt after the agent hung up", lambda: listener.packets()[heard_before:] or None)
        for packet in rfc4733_key_packets(KEY, int(OFFER["dtmf_pt"])):
            listener.send(packet, prompt[0].source)
        caller.expect_success(seconds=run_seconds)
    finally:
        listener.close()
    assert refusals(kamailio, kamailio_log) == []

    rating = api.the_rating(since, queue)
    assert (rating["rate"], rating["max_rate"], rating["extension_id"]) == (KEY, QUALITY_RATE_MAX, queue), rating
    assert_of_the_agent_who_hung_up(api, rating, agent_name, queue)
    history = api.the_call_history(rating["call_uuid"])
    assert history["bridged_duration"] >= TALK_SECONDS and history["duration"] >= TALK_SECONDS, history


def test_a_caller_hanging_up_through_kamailio_releases_the_agent_at_once_and_rates_nothing(
    api: API, numbers: Numbers, sipp: Sipp, kamailio: Kamailio
) -> None:
    kamailio_log = kamailio.log_size()
    agent_name, queue, did, registration = rating_queue_with_an_agent_behind_kamailio(api, numbers, sipp)
    agent_phone = sipp.start("nat_phone_hung_up_on.xml", "agent", port=registration.port, service=agent_name,
                             keys={"contact": nat_contact(registration.port)})
    since = datetime.now(timezone.utc)
    listener = RTPListener()
    try:
        # The caller is answered as it enters the queue, and hangs up 3 s later: the agent, rung
        # at once, has answered by then.
        caller = sipp.start("trunk_call_hangs_up.xml", "caller",
                            keys={**OFFER, "did": did, "rtp_port": str(listener.port), "talk_ms": "3000"})
        caller.expect_success()
        agent_phone.expect_success()
    finally:
        listener.close()

    hung_up, _ = first(caller, "sent", "BYE ")
    released, _ = first(agent_phone, "received", "BYE ")
    assert timedelta(0) <= released - hung_up < timedelta(seconds=RELEASE_SECONDS), (
        f"the caller's BYE went at {hung_up}, the agent's came at {released}")
    assert refusals(kamailio, kamailio_log) == []
    call = api.the_call_of(since, queue)
    assert (call["bridged_username"], call["hangup_disposition"]) == (agent_name, "caller_hangup"), call
    assert api.ratings(since, queue) == [], "the caller hung up first: no rating may exist"


def nat_contact(port: int) -> str:
    """The Contact address of the phone registered from `port`: its private address behind NAT."""
    return f"{NAT_CONTACT_HOST}:{port}"


def refusals(kamailio: Kamailio, offset: int) -> list[str]:
    """What Kamailio refused since log offset `offset`, as it logs it: initial requests from
    QualityRate without its Path as Route, and requests in a dialog that skipped its route set."""
    return [line for line in kamailio.log_since(offset).splitlines() if "<script>" in line and "refused" in line]


def register_behind_nat(sipp: Sipp, name: str, password: str) -> SippRun:
    """REGISTERs `name` through Kamailio as a phone behind NAT (register_behind_nat.xml); returns
    once QualityRate's 200 came back."""
    port = free_port()
    run = sipp.start("register_behind_nat.xml", f"register-{name}", keys={"domain": DOMAIN, "contact": nat_contact(port)},
                     port=port, service=name, password=password, auth_uri=DOMAIN, seconds=15)
    run.expect_success()
    return run


def first(run: SippRun, direction: str, start: str) -> tuple[datetime, str]:
    """When SIPp `run` first sent or received (`direction`) a message starting with `start`, and
    that message (line ends as "\\n")."""
    for moment, way, message in run.exchanged():
        if way == direction and message.startswith(start):
            return moment, message.replace("\r\n", "\n")
    raise AssertionError(f"SIPp {run.label} {direction} no {start.strip()!r}\n{run.report()}")


def header_values(message: str, name: str) -> list[str]:
    """The values of header `name` in `message`, in order, comma-separated lists split (the URIs
    these tests read contain no commas)."""
    head = message.partition("\n\n")[0]
    values = []
    for line in head.splitlines()[1:]:
        key, _, value = line.partition(":")
        if key.strip().lower() == name.lower():
            values += [part.strip() for part in value.split(",")]
    return values


def uri_parts(name_addr: str) -> tuple[str, dict[str, str]]:
    """The host:port of the SIP URI in `name_addr` (`<sip:host:port;name=value;…>`) and its
    parameters by lower-case name ("" for a parameter without value)."""
    uri = name_addr.strip().removeprefix("<").partition(">")[0]
    address, *parameters = uri.removeprefix("sip:").split(";")
    return address, {key.lower(): value for key, _, value in (p.partition("=") for p in parameters)}


def via_sent_by(via: str) -> str:
    """The host:port a Via value names (`SIP/2.0/UDP host:port;branch=…`)."""
    return via.split()[1].partition(";")[0]
