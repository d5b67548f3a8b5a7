"""What the server must refuse: a REGISTER with a wrong password (403, and no binding: a call to
that phone does not reach the address that tried to register), an INVITE to a DID from outside
--trunk (challenged like a phone, then 403) and an INVITE to a DID nobody has (404). Also the positive half of registration
over TCP, since every other test registers over UDP, and in SHA-256, since every other test
registers in MD5."""

from __future__ import annotations

import hashlib
import secrets
import socket

from harness import API, DOMAIN, Numbers, QualityRateServer, Sipp, eventually, free_port, new_password

TRUNK_CALLER = "4940999888"
OFFER = {"codecs": "0 8", "dtmf_pt": "101", "rtp_port": "40000", "caller": TRUNK_CALLER}


def test_register_with_a_wrong_password_is_refused_and_binds_nothing(
        server: QualityRateServer, api: API, numbers: Numbers, sipp: Sipp) -> None:
    name = numbers.extension()
    phone = api.create_phone(name, new_password())
    did = numbers.did()
    api.create_did(did, phone)
    port = free_port((socket.SOCK_DGRAM,))
    log_offset = server.log_size()
    guess = new_password()
    sipp.start("register_refused.xml", "register-wrong-password", keys={"domain": DOMAIN}, port=port,
               service=name, password=guess, auth_uri=DOMAIN, seconds=15).expect_success()
    # The operator reads why in the log; the guess (and any digest of it) is never there.
    logged = eventually("the refusal in the log", lambda: (lambda text: text if "REGISTER refused: wrong password" in text else None)(
        server.log_since(log_offset)))
    assert f"sip_user={name}" in logged and guess not in logged and "response=" not in logged, logged

    # The address that tried to register listens; the server must not call it.
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as contact:
        contact.bind(("127.0.0.1", port))
        contact.setblocking(False)
        sipp.start("trunk_call_unanswered.xml", "call-unregistered-phone", keys={**OFFER, "did": did},
                   seconds=40).expect_success()
        try:
            datagram = contact.recv(65536)
        except BlockingIOError:
            datagram = b""
    assert datagram == b"", f"the server sent to the refused phone's address: {datagram[:300]!r}"


def test_register_over_tcp(api: API, numbers: Numbers, sipp: Sipp) -> None:
    name, password = numbers.extension(), new_password()
    api.create_phone(name, password)
    sipp.register(name, password, transport="t1")


def test_invite_from_outside_the_trunk_range_is_refused(api: API, numbers: Numbers, sipp: Sipp) -> None:
    ivr = api.create_rating_ivr(numbers.extension(), max_rate=5)
    did = numbers.did()
    api.create_did(did, ivr)  # the DID exists: only the source address is wrong
    sipp.start("outsider_call_refused.xml", "call-from-127.0.0.2", keys={**OFFER, "did": did}, local_ip="127.0.0.2",
               seconds=15).expect_success()


def test_invite_to_an_unknown_did_is_refused(numbers: Numbers, sipp: Sipp) -> None:
    sipp.start("trunk_call_404.xml", "call-unknown-did", keys={**OFFER, "did": numbers.did()},
               seconds=15).expect_success()


def test_a_phone_registers_with_sha256_when_the_server_offers_it(tmp_path) -> None:
    """`--digest-algorithms SHA-256,MD5`: both challenges, SHA-256 first (RFC 8760); a REGISTER
    answered in SHA-256 (computed here with hashlib, independently of the server) is bound, a
    wrong password is 403. SIPp 3.6.1 and baresip 1.0 cannot answer SHA-256 (docs/SIP.md)."""
    server = QualityRateServer(tmp_path / "sha256", options=("--digest-algorithms", "SHA-256,MD5"))
    server.workdir.mkdir()
    try:
        server.start()
        api = API(server)
        password = new_password()
        api.create_phone("7900", password)
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as phone:
            phone.bind(("127.0.0.1", 0))
            phone.settimeout(5)
            challenge = _register(phone, server, cseq=1)
            assert challenge.startswith("SIP/2.0 401"), challenge
            offered = [line for line in challenge.split("\r\n") if line.lower().startswith("www-authenticate:")]
            assert [("algorithm=SHA-256" in line, "algorithm=MD5" in line) for line in offered] == [(True, False), (False, True)], offered
            nonce = offered[0].split('nonce="')[1].split('"')[0]
            answered = _register(phone, server, cseq=2, authorization=_sha256_digest("7900", password, nonce))
            assert answered.startswith("SIP/2.0 200"), answered
            assert f"<sip:7900@127.0.0.1:{phone.getsockname()[1]}>;expires=" in answered, answered
            wrong = _register(phone, server, cseq=3, authorization=_sha256_digest("7900", "not-the-password", nonce))
            assert wrong.startswith("SIP/2.0 403"), wrong
    finally:
        server.stop()


def _sha256_digest(user: str, password: str, nonce: str) -> str:
    def sha(text: str) -> str:
        return hashlib.sha256(text.encode()).hexdigest()
    uri = f"sip:{DOMAIN}"
    response = sha(f"{sha(f'{user}:{DOMAIN}:{password}')}:{nonce}:00000001:5eed:auth:{sha(f'REGISTER:{uri}')}")
    return (f'Digest username="{user}", realm="{DOMAIN}", nonce="{nonce}", uri="{uri}", response="{response}", '
            f'algorithm=SHA-256, cnonce="5eed", qop=auth, nc=00000001')


def _register(phone: socket.socket, server: QualityRateServer, cseq: int, authorization: str | None = None) -> str:
    host, port = phone.getsockname()
    lines = [
        f"REGISTER sip:{DOMAIN} SIP/2.0",
        f"Via: SIP/2.0/UDP {host}:{port};branch=z9hG4bK-sha{cseq}-{secrets.token_hex(4)};rport",
        f"From: <sip:7900@{DOMAIN}>;tag=sha256phone",
        f"To: <sip:7900@{DOMAIN}>",
        "Call-ID: sha256-registration",
        f"CSeq: {cseq} REGISTER",
        f"Contact: <sip:7900@{host}:{port}>",
        "Max-Forwards: 70",
        "Expires: 300",
    ]
    if authorization:
        lines.append(f"Authorization: {authorization}")
    phone.sendto(("\r\n".join(lines + ["Content-Length: 0", "", ""])).encode(), ("127.0.0.1", server.sip_port))
    while True:
        answer = phone.recv(65536).decode(errors="replace")
        if not answer.startswith("SIP/2.0 100"):
            return answer
