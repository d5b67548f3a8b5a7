"""Issue 11 over the wire: provider trunks, the server as a UAC toward providers played by SIPp.
A provider registrar challenges REGISTER (401, qop=auth) and the trunk registers and refreshes
before its expiry; a provider challenges INVITEs (407) and the server answers them; callbacks
call a customer behind the trunk (from a phone, from a queue), show the `dst_ani` DID as caller
ID, send `dst_dtmf` as RFC 4733 with its pauses and end at `call_duration`; a queue transfers its
caller out; a provider answering 503 makes the call fail over to the next trunk. Every digest
answer the server sent is checked here against the password (SIPp only challenges)."""

from __future__ import annotations

import hashlib
import re
import struct
from datetime import datetime, timezone
from typing import Any

import pytest

from harness import API, DOMAIN, Numbers, QualityRateServer, Sipp, SippRun, eventually, new_password, tone_wav
from media import RTPListener, pcap, rfc4733_key_packets

REALM = "provider.test"
ACCOUNT = "qr-account"
CUSTOMER = "+4915712345678"
MAX_RATE = 9
KEY = 5


def create_trunk(api: API, name: str, port: int, **fields: Any) -> dict[str, Any]:
    body = {"name": name, "host": "127.0.0.1", "port": port, "transport": "udp", "username": ACCOUNT,
            "password": fields.pop("password", "provider-secret"), "prefixes": ["+49"], **fields}
    return api.request("POST", f"client/{api.client_id}/trunk/", body, expect=(201,))


def delete_trunk(api: API, trunk: dict[str, Any]) -> None:
    api.request("DELETE", f"client/{api.client_id}/trunk/{trunk['id']}/", expect=(204,))


def provider(sipp: Sipp, scenario: str, label: str, **keys: str) -> SippRun:
    files = {"key.pcap": pcap(rfc4733_key_packets(KEY, 101))} if scenario == "provider_answers.xml" else None
    return sipp.start(scenario, label, keys={"realm": REALM, "nonce": f"nonce-{label}", **keys}, files=files, seconds=60)


def digest_problems(run: SippRun, header: str, method: str, password: str) -> list[str]:
    """Checks every `header` (Authorization or Proxy-Authorization) SIPp received on `method`
    requests against `password` (RFC 7616 §3.4.1, MD5, qop=auth); returns what is wrong."""
    problems, seen = [], 0
    for message in run.received():
        if not message.startswith(method + " "):
            continue
        match = re.search(rf"^{header}:\s*Digest (.*)$", message, re.MULTILINE | re.IGNORECASE)
        if not match:
            continue
        seen += 1
        fields = dict((key.lower(), value.strip('"')) for key, value in re.findall(r'(\w+)=("[^"]*"|[^,\s]+)', match.group(1)))
        md5 = lambda text: hashlib.md5(text.encode()).hexdigest()  # noqa: E731
        ha1 = md5(f"{fields['username']}:{fields['realm']}:{password}")
        ha2 = md5(f"{method}:{fields['uri']}")
        expected = md5(f"{ha1}:{fields['nonce']}:{fields['nc']}:{fields['cnonce']}:{fields['qop']}:{ha2}")
        if fields.get("response") != expected or fields["username"] != ACCOUNT or fields["realm"] != REALM:
            problems.append(f"wrong digest answer: {match.group(0)}")
    if seen == 0:
        problems.append(f"no {method} with {header} reached the provider")
    return problems


def authenticated_invite(run: SippRun) -> str:
    invites = [message for message in run.received() if message.startswith("INVITE ") and "Proxy-Authorization:" in message]
    assert invites, f"no authenticated INVITE reached the provider\n{run.report()}"
    return invites[0]


def header_of(message: str, name: str) -> str:
    match = re.search(rf"^{name}:\s*(.*)$", message, re.MULTILINE | re.IGNORECASE)
    return match.group(1).strip() if match else ""


def outside_legs(history: dict[str, Any]) -> list[dict[str, Any]]:
    return [leg for leg in history["cdr"] if leg.get("flow") == "out"]


def test_a_trunk_registers_through_the_challenge_and_refreshes_before_its_expiry(api: API, numbers: Numbers, sipp: Sipp) -> None:
    password = new_password()
    registrar = provider(sipp, "provider_registrar.xml", "registrar", granted="10", refreshes="1")
    trunk = create_trunk(api, f"registrar {numbers.extension()}", registrar.port, password=password, register=True,
                         register_expires=600)
    try:
        assert trunk["status"] == "registering" and "password" not in trunk, trunk
        path = f"client/{api.client_id}/trunk/{trunk['id']}/"
        def registered_trunk() -> dict[str, Any] | None:
            found = api.request("GET", path)
            return found if found["status"] == "registered" else None

        registered = eventually("the trunk reads registered", registered_trunk, seconds=15)
        assert registered["last_error"] is None, registered
        # The provider granted 10 s of the 600 asked: the refresh must come before they are over.
        registrar.expect_success(seconds=30)
        exchanged = registrar.exchanged()
        granted_at = next(moment for moment, direction, message in exchanged
                          if direction == "sent" and message.startswith("SIP/2.0 200"))
        refreshed_at = [moment for moment, direction, message in exchanged
                        if direction == "received" and message.startswith("REGISTER ") and moment > granted_at]
        assert refreshed_at, registrar.report()
        assert (refreshed_at[0] - granted_at).total_seconds() < 10, f"refresh {refreshed_at[0]} after grant {granted_at}"
        assert digest_problems(registrar, "Authorization", "REGISTER", password) == []
        register = next(message for message in registrar.received() if message.startswith("REGISTER "))
        assert header_of(register, "Expires") == "600", register
    finally:
        delete_trunk(api, trunk)


@pytest.mark.parametrize("source", ["phone", "queue"])
def test_a_web_callback_reaches_a_customer_through_the_trunk_who_rates_the_agent(api: API, numbers: Numbers, sipp: Sipp,
                                                                                 source: str) -> None:
    """`src_num` is the agent's phone, or a queue whose agent answers (and is then the source)."""
    agent_name, agent_password = numbers.extension(), new_password()
    agent = api.create_phone(agent_name, agent_password)
    queue_name = numbers.extension()
    if source == "queue":
        api.create_queue(queue_name, [agent])
    rating_menu = numbers.extension()
    ivr = api.create_rating_ivr(rating_menu, max_rate=MAX_RATE)
    shown_did = numbers.did()
    api.create_did(shown_did, ivr)
    password = new_password()
    listener = RTPListener()
    try:
        customer = provider(sipp, "provider_answers.xml", "customer", rtp_port=str(listener.port), key_delay_ms="6500")
        trunk = create_trunk(api, f"provider {numbers.extension()}", customer.port, password=password)
        registration = sipp.register(agent_name, agent_password)
        # The agent talks 3 s, then hangs up: the customer goes to the rating menu and presses 5.
        agent_phone = sipp.start("agent_hangs_up.xml", "agent", port=registration.port, service=agent_name,
                                 keys={"talk_ms": "3000"})
        since = datetime.now(timezone.utc)
        call_uuid = api.request("POST", f"extension/{agent}/callback/", {
            "src_num": [agent_name if source == "phone" else queue_name], "dst_num": CUSTOMER, "dst_ani": shown_did,
            "transfer_after_src_hangup": rating_menu,
        }, expect=(201,))["call_uuid"]
        agent_phone.expect_success()
        customer.expect_success()
    finally:
        listener.close()
    try:
        assert digest_problems(customer, "Proxy-Authorization", "INVITE", password) == []
        invite = authenticated_invite(customer)
        assert f"sip:{shown_did}@" in header_of(invite, "From"), invite
        assert f"sip:{shown_did}@" in header_of(invite, "P-Asserted-Identity"), invite
        assert invite.startswith(f"INVITE sip:{CUSTOMER}@127.0.0.1:{customer.port} "), invite

        rating = api.the_rating(since, ivr)
        assert (rating["rate"], rating["call_uuid"]) == (KEY, call_uuid), rating
        assert rating["agent_username"] == agent_name, "the customer rated the agent who called (docs/API.md)"
        history = api.the_call_history(call_uuid)
        out = outside_legs(history)
        assert len(out) == 1, history["cdr"]
        assert (out[0]["dest_number"], out[0]["trunk_id"], out[0]["trunk_name"], out[0]["sip_status"]) == (
            CUSTOMER, trunk["id"], trunk["name"], None), out
        assert history["flow"] == "out", history
    finally:
        delete_trunk(api, trunk)


def test_a_callback_from_a_queue_announces_sends_keys_and_ends_at_its_call_duration(api: API, numbers: Numbers, sipp: Sipp) -> None:
    """The customer hears `dst_announce_sound_id` (a 1 s tone) first, then the keys of `dst_dtmf`
    with their pauses; `call_duration` 8 ends the call."""
    agent_name, agent_password = numbers.extension(), new_password()
    agent = api.create_phone(agent_name, agent_password)
    queue_name = numbers.extension()
    api.create_queue(queue_name, [agent])
    tone = api.upload_sound(f"announcement {queue_name}", tone_wav(milliseconds=1000))
    password = new_password()
    listener = RTPListener()
    try:
        customer = provider(sipp, "provider_listens.xml", "customer", rtp_port=str(listener.port))
        trunk = create_trunk(api, f"provider {numbers.extension()}", customer.port, password=password)
        registration = sipp.register(agent_name, agent_password)
        agent_phone = sipp.start("agent_hung_up_on.xml", "agent", port=registration.port, service=agent_name)
        call_uuid = api.request("POST", f"extension/{agent}/callback/", {
            "src_num": [queue_name], "dst_num": CUSTOMER, "dst_dtmf": "1w2W3", "call_duration": 8,
            "dst_announce_sound_id": tone,
        }, expect=(201,))["call_uuid"]
        agent_phone.expect_success()
        customer.expect_success()
        packets = listener.packets()
    finally:
        listener.close()
    try:
        keys = received_keys(packets, payload_type=101)
        assert [key for key, _ in keys] == ["1", "2", "3"], keys
        # The announcement: about a second of PCMU (50 frames; the first may go out as the leg's
        # media is set up) reached the customer before the first key.
        first_key = next(index for index, packet in enumerate(packets) if packet.payload_type == 101)
        audio = [packet for packet in packets[:first_key] if packet.payload_type == 0 and len(packet.payload) == 160]
        assert len(audio) >= 45, f"{len(audio)} audio frames before the keys"
        (_, first), (_, second), (_, third) = keys
        # RTP timestamps at 8 kHz: `w` pauses 0.5 s, `W` 1 s, on top of each key's own length.
        assert (second - first) / 8000 >= 0.5 and (third - second) / 8000 >= 1.0, keys
        history = api.the_call_history(call_uuid)
        assert history["hangup_disposition"] == "system" and 7 <= history["duration"] <= 10, history
        assert any(leg["leg"] == "callback_source" and leg["dest_number"] == agent_name for leg in history["cdr"]), history
        assert len(outside_legs(history)) == 1, history["cdr"]
    finally:
        delete_trunk(api, trunk)


def received_keys(packets: list[Any], payload_type: int) -> list[tuple[str, int]]:
    """The RFC 4733 events among `packets`, one per key (its first packet), with its timestamp."""
    keys, seen = [], set()
    for packet in packets:
        if packet.payload_type != payload_type or len(packet.payload) < 4:
            continue
        event, _, _ = struct.unpack("!BBH", packet.payload[:4])
        if packet.timestamp in seen:
            continue
        seen.add(packet.timestamp)
        keys.append(("0123456789*#"[event] if event < 12 else "?", packet.timestamp))
    return keys


def test_a_queue_transfers_its_caller_out_through_the_trunk(api: API, numbers: Numbers, sipp: Sipp) -> None:
    agent_name, agent_password = numbers.extension(), new_password()
    agent = api.create_phone(agent_name, agent_password)
    password = new_password()
    caller_media, customer_media = RTPListener(), RTPListener()
    try:
        customer = provider(sipp, "provider_listens.xml", "customer", rtp_port=str(customer_media.port))
        # The trunk first: a transfer destination outside the client needs one that carries it.
        trunk = create_trunk(api, f"provider {numbers.extension()}", customer.port, password=password)
        queue = api.create_queue(numbers.extension(), [agent], agent_hangup_action="transfer",
                                 agent_hangup_transfer_dst=CUSTOMER)
        did = numbers.did()
        api.create_did(did, queue)
        registration = sipp.register(agent_name, agent_password)
        agent_phone = sipp.start("agent_hangs_up.xml", "agent", port=registration.port, service=agent_name,
                                 keys={"talk_ms": "1500"})
        since = datetime.now(timezone.utc)
        # The caller stays 6 s after its answer: bridged to the agent, then to the customer; its
        # BYE then ends the outside leg too (the customer gets the server's BYE).
        caller = sipp.start("trunk_call_hangs_up.xml", "caller", keys={
            "did": did, "caller": "4940765432", "codecs": "0 8", "dtmf_pt": "101", "rtp_port": str(caller_media.port),
            "talk_ms": "6000"})
        agent_phone.expect_success()
        caller.expect_success()
        customer.expect_success()
    finally:
        caller_media.close()
        customer_media.close()
    try:
        assert digest_problems(customer, "Proxy-Authorization", "INVITE", password) == []
        call = api.the_call_of(since, queue)
        out = outside_legs(api.the_call_history(call["call_uuid"]))
        assert [(leg["dest_number"], leg["trunk_id"]) for leg in out] == [(CUSTOMER, trunk["id"])], out
        assert call["bridged_username"] == CUSTOMER, call
    finally:
        delete_trunk(api, trunk)


def test_a_provider_answering_503_fails_over_to_the_next_trunk(api: API, numbers: Numbers, sipp: Sipp) -> None:
    agent_name, agent_password = numbers.extension(), new_password()
    agent = api.create_phone(agent_name, agent_password)
    listener = RTPListener()
    try:
        down = provider(sipp, "provider_unavailable.xml", "down")
        customer = provider(sipp, "provider_listens.xml", "customer", rtp_port=str(listener.port))
        first = create_trunk(api, f"first {numbers.extension()}", down.port, position=0)
        second = create_trunk(api, f"second {numbers.extension()}", customer.port, position=1)
        registration = sipp.register(agent_name, agent_password)
        agent_phone = sipp.start("agent_hung_up_on.xml", "agent", port=registration.port, service=agent_name)
        call_uuid = api.request("POST", f"extension/{agent}/callback/", {
            "src_num": [agent_name], "dst_num": CUSTOMER, "call_duration": 4}, expect=(201,))["call_uuid"]
        down.expect_success()
        customer.expect_success()
        agent_phone.expect_success()
    finally:
        listener.close()
    try:
        out = outside_legs(api.the_call_history(call_uuid))
        assert [(leg["trunk_id"], leg["sip_status"]) for leg in out] == [(first["id"], 503), (second["id"], None)], out
    finally:
        delete_trunk(api, first)
        delete_trunk(api, second)


def test_with_no_trunk_carrying_the_number_the_api_answers_422_and_dials_nothing(api: API, numbers: Numbers) -> None:
    agent_name = numbers.extension()
    agent = api.create_phone(agent_name, new_password())
    since = datetime.now(timezone.utc)
    answer = api.request("POST", f"extension/{agent}/callback/", {"src_num": ["+3312345678"], "dst_num": agent_name},
                         expect=(422,))
    assert "src_num" in str(answer), answer
    answer = api.request("POST", f"extension/{agent}/callback/", {"src_num": [agent_name], "dst_num": "+3398765432"},
                         expect=(422,))
    assert "dst_num" in str(answer), answer
    assert [call for call in api.call_histories(since)] == [], "nothing may have been dialled"


def test_a_registered_trunks_provider_reaches_the_clients_dids_from_its_own_address(api: API, numbers: Numbers, sipp: Sipp) -> None:
    """127.0.0.2 is outside the server's --trunk range (127.0.0.1/32): its calls are taken only
    while a trunk of the client is registered there."""
    ivr_name = numbers.extension()
    ivr = api.create_rating_ivr(ivr_name, max_rate=MAX_RATE)
    did = numbers.did()
    api.create_did(did, ivr)
    offer = {"did": did, "caller": "4940111222", "codecs": "0 8", "dtmf_pt": "101"}
    # Before any trunk is registered there, 127.0.0.2 is refused like any outsider (407, then 403).
    sipp.start("outsider_call_refused.xml", "before-registration", local_ip="127.0.0.2",
               keys={**offer, "rtp_port": "40000"}, seconds=15).expect_success()
    registrar = sipp.start("provider_registrar.xml", "registrar", local_ip="127.0.0.2",
                           keys={"realm": REALM, "nonce": "nonce-inbound", "granted": "300", "refreshes": "0"}, seconds=30)
    trunk = api.request("POST", f"client/{api.client_id}/trunk/", {
        "name": f"inbound {numbers.extension()}", "host": "127.0.0.2", "port": registrar.port, "username": ACCOUNT,
        "password": "provider-secret", "register": True}, expect=(201,))
    try:
        registrar.expect_success()
        path = f"client/{api.client_id}/trunk/{trunk['id']}/"
        eventually("the trunk reads registered", lambda: api.request("GET", path)["status"] == "registered" or None, seconds=15)
        listener = RTPListener()
        try:
            since = datetime.now(timezone.utc)
            sipp.start("trunk_call_rfc4733.xml", "provider-call", local_ip="127.0.0.2",
                       keys={**offer, "rtp_port": str(listener.port), "key_delay_ms": "2500"},
                       files={"key.pcap": pcap(rfc4733_key_packets(KEY, 101))}).expect_success()
        finally:
            listener.close()
        rating = api.the_rating(since, ivr)
        assert rating["rate"] == KEY, rating
    finally:
        delete_trunk(api, trunk)


def test_a_trunk_outside_the_provider_addresses_neither_registers_nor_carries_calls(api: API, numbers: Numbers) -> None:
    """The server runs with --provider-addresses 127.0.0.0/8 (harness.py): a trunk pointing
    elsewhere fails with the reason, and nothing is sent there."""
    trunk = api.request("POST", f"client/{api.client_id}/trunk/", {
        "name": f"elsewhere {numbers.extension()}", "host": "192.0.2.1", "username": ACCOUNT, "password": "x",
        "register": True}, expect=(201,))
    try:
        path = f"client/{api.client_id}/trunk/{trunk['id']}/"
        def failed_trunk() -> dict[str, Any] | None:
            found = api.request("GET", path)
            return found if found["status"] == "failed" else None

        failed = eventually("the trunk reads failed", failed_trunk, seconds=15)
        assert "outside --provider-addresses" in failed["last_error"], failed
    finally:
        delete_trunk(api, trunk)


def test_a_registered_phone_dials_out_through_the_trunk_showing_the_trunks_caller_id(
        api: API, numbers: Numbers, sipp: Sipp, server: QualityRateServer) -> None:
    phone_name, password = numbers.extension(), new_password()
    api.create_phone(phone_name, password)
    menu = api.create_rating_ivr(numbers.extension(), max_rate=MAX_RATE)
    shown_did = numbers.did()
    api.create_did(shown_did, menu)
    provider_password = new_password()
    caller_media, customer_media = RTPListener(), RTPListener()
    try:
        customer = provider(sipp, "provider_hangs_up.xml", "customer", rtp_port=str(customer_media.port), talk_ms="2000")
        trunk = create_trunk(api, f"provider {numbers.extension()}", customer.port, password=provider_password,
                             caller_id=shown_did, strip_digits=1, add_prefix="00")
        since = datetime.now(timezone.utc)
        phone = phone_dials(sipp, server, phone_name, password, CUSTOMER, caller_media.port)
        customer.expect_success()
        phone.expect_success()
    finally:
        caller_media.close()
        customer_media.close()
    try:
        assert digest_problems(customer, "Proxy-Authorization", "INVITE", provider_password) == []
        invite = authenticated_invite(customer)
        # strip_digits 1 and add_prefix 00: +4915712345678 goes out as 004915712345678.
        assert invite.startswith(f"INVITE sip:00{CUSTOMER[1:]}@127.0.0.1:{customer.port} "), invite
        assert f"sip:{shown_did}@" in header_of(invite, "P-Asserted-Identity"), invite
        calls = [call for call in api.call_histories(since) if call["from_username"] == phone_name]
        assert len(calls) == 1, calls
        history = api.the_call_history(calls[0]["call_uuid"])
        assert history["flow"] == "out" and history["bridged_username"] == CUSTOMER, history
        assert [(leg["trunk_id"], leg["sip_status"]) for leg in outside_legs(history)] == [(trunk["id"], None)], history["cdr"]
    finally:
        delete_trunk(api, trunk)


def test_a_phone_dialling_a_number_no_trunk_carries_is_refused_404(
        api: API, numbers: Numbers, sipp: Sipp, server: QualityRateServer) -> None:
    phone_name, password = numbers.extension(), new_password()
    api.create_phone(phone_name, password)
    run = phone_dials(sipp, server, phone_name, password, "+3312345678", 40000)
    run.wait(30)
    finals = [message.split("\n", 1)[0] for message in run.received()
              if message.startswith("SIP/2.0 ") and not message.startswith(("SIP/2.0 1", "SIP/2.0 407"))]
    assert finals and finals[0].startswith("SIP/2.0 404"), f"{finals}\n{run.report()}"


def phone_dials(sipp: Sipp, server: QualityRateServer, phone_name: str, password: str, number: str, rtp_port: int) -> SippRun:
    """Registers `phone_name` (a SIPp phone) and has it dial `number`, answering the server's 407."""
    registration = sipp.register(phone_name, password)
    return sipp.start(
        "phone_call_rfc4733.xml", "phone", port=registration.port, service=phone_name, password=password,
        auth_uri=f"{number}@{server.sip_address}",
        keys={"domain": DOMAIN, "dialled": number, "codecs": "0 8", "dtmf_pt": "101", "rtp_port": str(rtp_port),
              "key_delay_ms": "500"},
        files={"key.pcap": pcap(rfc4733_key_packets(KEY, 101))})
