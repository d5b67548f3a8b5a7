"""SIP over TLS, SRTP with SDES keys and the API over HTTPS, with baresip 1.0.0 as the phone: a
server of this module's own serves `--sip-tls` and `--https` with a certificate signed by a test
CA made here (openssl); baresip registers over TLS (trusting that CA) with `mediaenc=srtp-mand`,
so it sends and accepts nothing but SRTP, and

- dials a rating voice menu and presses a key — an RFC 4733 event inside SRTP — which ends in a
  rating read back over HTTPS;
- answers a queue call from a plain-RTP trunk as the agent: the server offers it RTP/SAVP over
  TLS, decrypts what it sends and relays it to the caller in clear, and the caller rates it.

Every SIP message of the calls goes over TLS, and no SRTP packet is refused."""

from __future__ import annotations

import socket
import ssl
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path

import pytest

from harness import DOMAIN, API, Baresip, FailureReport, Numbers, QualityRateServer, Sipp, TLSCertificates, new_password
from media import RTPListener, pcap, rfc4733_key_packets

MAX_RATE = 9
QUALITY_RATE_MAX = 8
KEY = 7
TRUNK_CALLER = "4940555777"


@pytest.fixture(scope="module")
def certificates(tmp_path_factory: pytest.TempPathFactory) -> TLSCertificates:
    return TLSCertificates.make(tmp_path_factory.mktemp("certificates"))


@pytest.fixture(scope="module")
def tls_server(tmp_path_factory: pytest.TempPathFactory, certificates: TLSCertificates) -> Iterator[QualityRateServer]:
    running = QualityRateServer(tmp_path_factory.mktemp("qualityrate-tls"), tls=certificates)
    try:
        running.start()
        yield running
    finally:
        running.stop()


@pytest.fixture(scope="module")
def tls_api(tls_server: QualityRateServer) -> API:
    return API(tls_server)


@pytest.fixture
def watched(tls_server: QualityRateServer, failure_report: FailureReport) -> QualityRateServer:
    failure_report.watch("qualityrate serve (TLS) log", tls_server)
    return tls_server


def metric(server: QualityRateServer, name: str, labels: str) -> float:
    with urllib.request.urlopen(f"{server.base_url}/metrics", timeout=5, context=server.ssl_context) as response:
        text = response.read().decode()
    for line in text.splitlines():
        if line.startswith(f"{name}{{") and all(label in line for label in labels.split(",")):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


def srtp_refused(server: QualityRateServer) -> float:
    return metric(server, "qualityrate_rtp_packets_dropped_total", 'reason="srtp_refused"')


def test_the_api_is_served_over_https_only(watched: QualityRateServer, certificates: TLSCertificates) -> None:
    with urllib.request.urlopen(f"{watched.base_url}/health", timeout=5, context=certificates.client_context()) as response:
        assert response.status == 200
    with pytest.raises(urllib.error.URLError) as untrusted:
        urllib.request.urlopen(f"{watched.base_url}/health", timeout=5, context=ssl.create_default_context())
    assert "CERTIFICATE_VERIFY_FAILED" in str(untrusted.value), "only the test CA vouches for the server"
    # Plain HTTP to the HTTPS port gets no API answer.
    with socket.create_connection(("127.0.0.1", watched.http_port), timeout=5) as plain:
        plain.sendall(b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        plain.settimeout(5)
        try:
            answer = plain.recv(4096)
        except (ConnectionResetError, socket.timeout):
            answer = b""
    assert not answer.startswith(b"HTTP/1.1 200"), answer


def test_garbage_instead_of_tls_is_refused_and_sip_over_tls_goes_on(
    watched: QualityRateServer, certificates: TLSCertificates
) -> None:
    host, port = watched.sip_tls_address.split(":")
    refused_before = metric(watched, "qualityrate_sip_messages_malformed_total", 'transport="tls"')
    for garbage in (b"REGISTER sip:acme.test SIP/2.0\r\n\r\n", bytes(range(256)) * 8, b"\x16\x03\x01\x00\x05hello"):
        with socket.create_connection((host, int(port)), timeout=5) as connection:
            connection.sendall(garbage)
            connection.settimeout(5)
            try:
                while connection.recv(4096):
                    pass
            except (ConnectionResetError, socket.timeout):
                pass
    # The SIP listener presents the certificate: verified against the test CA, for 127.0.0.1.
    context = certificates.client_context()
    with socket.create_connection((host, int(port)), timeout=5) as raw, \
            context.wrap_socket(raw, server_hostname="127.0.0.1") as tls:
        tls.sendall(b"OPTIONS sip:127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/TLS 127.0.0.1:5999;branch=z9hG4bKtls1\r\n"
                    b"From: <sip:probe@127.0.0.1>;tag=1\r\nTo: <sip:127.0.0.1>\r\nCall-ID: tls-probe\r\n"
                    b"CSeq: 1 OPTIONS\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n")
        answer = tls.recv(4096).decode(errors="replace")
    assert answer.startswith("SIP/2.0 200"), answer
    assert "Via: SIP/2.0/TLS 127.0.0.1:5999;branch=z9hG4bKtls1" in answer, answer
    refused = metric(watched, "qualityrate_sip_messages_malformed_total", 'transport="tls"') - refused_before
    assert refused == 3, f"each connection that was not TLS counted once, got {refused}"


def test_baresip_over_tls_and_srtp_dials_the_voice_menu_and_rates(
    tls_api: API, numbers: Numbers, watched: QualityRateServer, certificates: TLSCertificates, tmp_path: Path
) -> None:
    phone_name, password = numbers.extension(), new_password()
    tls_api.create_phone(phone_name, password)
    ivr_name = numbers.extension()
    ivr = tls_api.create_rating_ivr(ivr_name, max_rate=MAX_RATE)
    refused_before = srtp_refused(watched)
    log_start = watched.log_size()

    phone = Baresip(tmp_path / "baresip", phone_name, password, watched.sip_tls_address, ca=certificates.ca)
    try:
        phone.start()
        phone.wait_until_registered()
        since = datetime.now(timezone.utc)
        phone.command("dial", f"sip:{ivr_name}@{DOMAIN}")
        phone.wait_for_event("CALL_ESTABLISHED")
        time.sleep(1.5)  # into the prompt: SRTP from the server, decrypted by baresip
        phone.command("sndcode", str(KEY))
        # The menu plays its finish tone and hangs up: its BYE ends baresip's call.
        phone.wait_for_event("CALL_CLOSED", seconds=30)
    except AssertionError as failure:
        raise AssertionError(f"{failure}\n{phone.report()}") from None
    finally:
        phone.stop()

    output = (tmp_path / "baresip" / "output.log").read_text(errors="replace")
    assert "SRTP is Enabled (cryptosuite=AES_CM_128_HMAC_SHA1_80)" in output, output[-4000:]
    log = watched.log_since(log_start)
    assert "sip.message=INVITE" in log and all(
        "sip.peer=TLS" in line for line in log.splitlines() if line.endswith(("SIP in", "SIP out"))), "every SIP message over TLS"
    assert "sip.message=INFO" not in log, "the key by RFC 4733 in SRTP, not SIP INFO"
    rating = tls_api.the_rating(since, ivr)
    assert (rating["rate"], rating["extension_id"], rating["max_rate"]) == (KEY, ivr, MAX_RATE), rating
    history = tls_api.the_call_history(rating["call_uuid"])
    assert history["from_username"] == phone_name, history
    assert srtp_refused(watched) == refused_before, "every SRTP packet baresip sent authenticated"


def test_baresip_agent_over_tls_and_srtp_is_bridged_to_a_plain_rtp_caller_who_rates_it(
    tls_api: API, numbers: Numbers, watched: QualityRateServer, certificates: TLSCertificates, tmp_path: Path,
    failure_report: FailureReport,
) -> None:
    agent_name, password = numbers.extension(), new_password()
    agent = tls_api.create_phone(agent_name, password)
    queue = tls_api.create_rating_queue(numbers.extension(), [agent], QUALITY_RATE_MAX)
    did = numbers.did()
    tls_api.create_did(did, queue)
    refused_before = srtp_refused(watched)

    sipp = Sipp(watched.sip_address, tmp_path / "sipp")
    failure_report.launchers.append(sipp)
    phone = Baresip(tmp_path / "baresip", agent_name, password, watched.sip_tls_address, ca=certificates.ca)
    listener = RTPListener()
    try:
        phone.start()
        phone.wait_until_registered()
        since = datetime.now(timezone.utc)
        caller = sipp.start(
            "trunk_call_rfc4733.xml", "caller",
            keys={"did": did, "caller": TRUNK_CALLER, "codecs": "0 8", "dtmf_pt": "101", "rtp_port": str(listener.port),
                  "key_delay_ms": "6000"},
            files={"key.pcap": pcap(rfc4733_key_packets(KEY, 101))},
        )
        phone.wait_for_event("CALL_ESTABLISHED")
        time.sleep(1.5)  # a short conversation: baresip's SRTP, relayed to the caller in clear
        phone.command("hangup")
        phone.wait_for_event("CALL_CLOSED")
        caller.expect_success()
    except AssertionError as failure:
        raise AssertionError(f"{failure}\n{phone.report()}") from None
    finally:
        listener.close()
        phone.stop()
        sipp.stop_all()

    output = (tmp_path / "baresip" / "output.log").read_text(errors="replace")
    assert "SRTP is Enabled (cryptosuite=AES_CM_128_HMAC_SHA1_80)" in output, output[-4000:]
    # The queue plays nothing before the agent answers: the first stream the caller hears is
    # baresip's, decrypted by the server (its SSRC kept) — a frame with the SRTP tag still on
    # would be 170 bytes, and one that failed to authenticate would not be relayed at all.
    heard = listener.packets()
    assert heard, "the agent's audio reached the caller"
    agent_stream = [packet for packet in heard if packet.ssrc == heard[0].ssrc]
    assert len(agent_stream) >= 20, f"about 1.5 s of the agent's audio, got {len(agent_stream)} packets"
    assert all(packet.payload_type == 0 and len(packet.payload) == 160 for packet in agent_stream), "plain PCMU frames"
    rating = tls_api.the_rating(since, queue)
    assert (rating["rate"], rating["max_rate"], rating["extension_id"]) == (KEY, QUALITY_RATE_MAX, queue), rating
    assert rating["agent_username"] == agent_name, rating
    assert srtp_refused(watched) == refused_before

