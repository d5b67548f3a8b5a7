"""The probes of the issue "Security and resilience at the edges", rerun as an attacker and a
failing machine would send them, each against a `qualityrate serve` of its own: a password
guesser on SIP and on /oauth/token, a burst of 5,000 INVITEs, and 1,000 slow or idle
connections under a 400-descriptor limit. The real phone, application and caller are on other
loopback addresses and must not notice. Each test prints the figures the closing note quotes."""

from __future__ import annotations

import hashlib
import http.client
import json
import resource
import secrets
import select
import socket
import sys
import threading
import time
import urllib.parse
import urllib.request
from datetime import datetime, timedelta, timezone
from pathlib import Path

from harness import API, DOMAIN, ROOT, QualityRateServer, Sipp, eventually, new_password

sys.path.insert(0, str(ROOT / "Benchmarks" / "sip"))
from qualityrate_sip import flood_invite, options_probe  # noqa: E402  (shared with scripts/bench-flood)

OFFER = {"codecs": "0 8", "dtmf_pt": "101", "caller": "4940777000", "key_delay_ms": "500",
         "info_type": "application/dtmf-relay", "info_body": "Signal=4\r\nDuration=160\r\n"}


def _md5(text: str) -> str:
    return hashlib.md5(text.encode()).hexdigest()


class RawPhone:
    """A UDP SIP client on `host` that REGISTERs `user` with MD5 digest, by hand."""

    def __init__(self, host: str, server: QualityRateServer, user: str) -> None:
        self.socket = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.socket.bind((host, 0))
        self.socket.settimeout(5)
        self.server = server
        self.user = user
        self.call_id = f"edge-{secrets.token_hex(6)}"
        self.cseq = 0

    def register(self, authorization: str | None = None) -> str:
        self.cseq += 1
        host, port = self.socket.getsockname()
        lines = [
            f"REGISTER sip:{DOMAIN} SIP/2.0",
            f"Via: SIP/2.0/UDP {host}:{port};branch=z9hG4bK-{secrets.token_hex(6)};rport",
            f"From: <sip:{self.user}@{DOMAIN}>;tag=edge", f"To: <sip:{self.user}@{DOMAIN}>",
            f"Call-ID: {self.call_id}", f"CSeq: {self.cseq} REGISTER", f"Contact: <sip:{self.user}@{host}:{port}>",
            "Max-Forwards: 70", "Expires: 300",
        ] + ([f"Authorization: {authorization}"] if authorization else [])
        self.socket.sendto("\r\n".join(lines + ["Content-Length: 0", "", ""]).encode(), ("127.0.0.1", self.server.sip_port))
        while True:
            answer = self.socket.recv(65536).decode(errors="replace")
            if f"CSeq: {self.cseq} REGISTER" in answer:
                return answer

    def credentials(self, challenge: str, password: str) -> str:
        nonce = challenge.split('nonce="')[1].split('"')[0]
        uri = f"sip:{DOMAIN}"
        response = _md5(f"{_md5(f'{self.user}:{DOMAIN}:{password}')}:{nonce}:00000001:5eed:auth:{_md5(f'REGISTER:{uri}')}")
        return (f'Digest username="{self.user}", realm="{DOMAIN}", nonce="{nonce}", uri="{uri}", response="{response}", '
                f'algorithm=MD5, cnonce="5eed", qop=auth, nc=00000001')

    def sign_in(self, password: str) -> str:
        """The answer to a REGISTER with `password` (after its challenge, when there is one)."""
        first = self.register()
        return self.register(self.credentials(first, password)) if first.startswith("SIP/2.0 401") else first

    def close(self) -> None:
        self.socket.close()


def _metric(server: QualityRateServer, name: str) -> float:
    with urllib.request.urlopen(f"{server.base_url}/metrics", timeout=10) as response:
        text = response.read().decode()
    return sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines() if line.startswith(name))


def _rated_call(sipp: Sipp, api: API, did: str, label: str, ivr: int, since_count: int) -> None:
    """A trunk call from 127.0.0.1 to `did` whose caller presses 4; waits for its rating (the
    `since_count + 1`-th of the menu today)."""
    since = datetime.now(timezone.utc) - timedelta(hours=1)
    sipp.start("trunk_call_info.xml", label, keys={**OFFER, "did": did, "rtp_port": "9"}, seconds=40).expect_success()
    eventually(f"the rating of {label}",
               lambda: True if len(api.ratings(since, ivr)) > since_count else None, seconds=20)


def test_a_sip_password_guesser_is_banned_while_the_phone_registers_from_elsewhere(tmp_path: Path) -> None:
    server = QualityRateServer(tmp_path / "sip-bans")
    server.workdir.mkdir()
    guesser = phone = None
    try:
        server.start()
        api = API(server)
        password = new_password()
        api.create_phone("7301", password)
        guesser = RawPhone("127.0.0.61", server, "7301")
        phone = RawPhone("127.0.0.62", server, "7301")
        challenged = refused_unheard = phone_ok = 0
        for attempt in range(2000):
            answer = guesser.register()
            if answer.startswith("SIP/2.0 401"):
                challenged += 1
                wrong = guesser.register(guesser.credentials(answer, f"guess-{attempt}"))
                assert wrong.startswith("SIP/2.0 403"), wrong
            else:
                assert answer.startswith("SIP/2.0 403 Forbidden"), answer
                refused_unheard += 1
            if attempt % 100 == 0:
                signed_in = phone.sign_in(password)
                assert signed_in.startswith("SIP/2.0 200"), f"attempt {attempt}: the real phone was refused: {signed_in}"
                phone_ok += 1
        # Even the right password is refused from the banned address.
        assert guesser.sign_in(password).startswith("SIP/2.0 403")
        print(f"\nSIP guesser: {challenged} wrong passwords heard, {refused_unheard} of 2000 REGISTERs refused unheard; "
              f"the phone elsewhere registered {phone_ok} of {phone_ok} times")
        assert challenged <= 10, f"the guesser had {challenged} passwords checked (--ban-after 10)"
        assert refused_unheard >= 1990
        assert _metric(server, 'qualityrate_auth_bans_total{protocol="sip",scope="source"}') >= 1
        assert "address banned after failed SIP authentications" in server.log_path.read_text()
    finally:
        for peer in (guesser, phone):
            if peer:
                peer.close()
        server.stop()


def test_an_oauth_secret_guesser_gets_429_while_the_application_signs_in_from_elsewhere(tmp_path: Path) -> None:
    server = QualityRateServer(tmp_path / "http-bans")
    server.workdir.mkdir()
    try:
        server.start()
        assert server.credentials is not None
        app_id = server.credentials.app_id
        guesser = http.client.HTTPConnection("127.0.0.1", server.http_port, timeout=10, source_address=("127.0.0.63", 0))
        statuses: dict[int, int] = {}
        retry_after = None
        tokens = 0
        for attempt in range(2000):
            # The password grant's bans are HTTPAPITests' (it needs a password_credentials application).
            grant = {"grant_type": "client_credentials", "client_id": app_id, "client_secret": f"guess-{attempt}"}
            guesser.request("POST", "/oauth/token", body=urllib.parse.urlencode(grant),
                            headers={"Content-Type": "application/x-www-form-urlencoded"})
            response = guesser.getresponse()
            response.read()
            statuses[response.status] = statuses.get(response.status, 0) + 1
            if response.status == 429:
                retry_after = response.getheader("Retry-After")
            if attempt % 100 == 0:
                API(server)  # the application itself, from 127.0.0.1: a token every time
                tokens += 1
        guesser.close()
        print(f"\n/oauth/token guesser: {statuses} over 2000 attempts; the application got {tokens} of {tokens} tokens")
        assert set(statuses) == {401, 429} and statuses[401] <= 10, statuses
        assert statuses.get(429, 0) >= 1990, statuses
        assert retry_after is not None and int(retry_after) >= 1
        assert _metric(server, 'qualityrate_auth_bans_total{protocol="http",scope="source"}') >= 1
    finally:
        server.stop()


def _rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def test_a_burst_of_5000_invites_is_held_to_the_limits_and_the_server_keeps_answering(tmp_path: Path) -> None:
    rate_per_source = 20
    # --max-calls 500 (2,000 RTP ports hold them): more calls than the flood's source may start in
    # the burst (20 a second), so the legitimate caller finds a place during and after it.
    server = QualityRateServer(tmp_path / "flood", trunk="127.0.0.0/8", rtp_ports=2000,
                               options=("--max-call-rate", "200", "--max-call-rate-per-source", str(rate_per_source),
                                        "--max-calls", "500", "--log-level", "info", "--drain-seconds", "0"))
    server.workdir.mkdir()
    sipp = Sipp(server.sip_address, tmp_path / "sipp")
    flood = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    flood.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8 << 20)
    flood.bind(("127.0.0.71", 0))
    try:
        server.start()
        api = API(server)
        ivr = api.create_rating_ivr("7310", max_rate=5)
        api.create_did("4930777310", ivr)
        assert server.process is not None
        rss_before = _rss_kib(server.process.pid)

        answers: dict[str, set[int]] = {}
        retry_afters: set[str] = set()
        done = threading.Event()

        def collect() -> None:
            flood.settimeout(0.2)
            while not done.is_set():
                try:
                    data = flood.recv(65536).decode(errors="replace")
                except socket.timeout:
                    continue
                if not data.startswith("SIP/2.0 "):
                    continue  # the server's BYE to an admitted call never ACKed (64·T1 later)
                status = int(data.split(" ", 2)[1])
                call_id = next(line.split(":", 1)[1].strip() for line in data.split("\r\n") if line.lower().startswith("call-id:"))
                answers.setdefault(call_id, set()).add(status)
                if status == 503:
                    retry_afters.add(next((line for line in data.split("\r\n") if line.lower().startswith("retry-after:")), ""))

        collector = threading.Thread(target=collect)
        collector.start()
        host, port = flood.getsockname()
        started = time.monotonic()
        options_answered = health_answered = 0
        legit = None
        for index in range(5000):
            flood.sendto(flood_invite((host, port), server.sip_port, "4930777310", index), ("127.0.0.1", server.sip_port))
            if index % 500 == 0:
                options_answered += _options(server, "127.0.0.72")
                with urllib.request.urlopen(f"{server.base_url}/health", timeout=5) as response:
                    health_answered += response.status == 200
            if index == 2500:
                legit = sipp.start("trunk_call_info.xml", "during", keys={**OFFER, "did": "4930777310", "rtp_port": "9"},
                                   seconds=40)
            # About 500 INVITEs a second, what a debug build on two shared cores refuses as fast as
            # they come; the full-speed burst against a release build is `scripts/bench-flood`'s.
            time.sleep(0.002)
        sent_for = time.monotonic() - started
        assert legit is not None
        legit.expect_success()
        # The refusals came at once; the answers to admitted calls may take a moment longer.
        def settled() -> bool | None:
            before = len(answers)
            time.sleep(1)
            return True if len(answers) == before else None
        eventually("answers to the burst", settled, seconds=20)
        done.set()
        collector.join()
        admitted = sum(1 for statuses in answers.values() if 200 in statuses)
        refused = sum(1 for statuses in answers.values() if 503 in statuses)
        rss_after = _rss_kib(server.process.pid)
        dropped_inside = _metric(server, "qualityrate_sip_inbound_dropped_total")
        dropped_by_kernel = _udp_drops(server.sip_port)
        _rated_call(sipp, api, "4930777310", "after", ivr, since_count=1)
        print(f"\n5000 INVITEs in {sent_for:.1f} s: {len(answers)} answered, {admitted} admitted (200), {refused} refused 503 "
              f"{sorted(retry_afters)}, {5000 - len(answers)} unanswered; OPTIONS {options_answered}/10 and /health "
              f"{health_answered}/10 answered during it; server RSS {rss_before // 1024} → {rss_after // 1024} MiB; "
              f"dropped: {dropped_inside:.0f} by the server's bounded queues, {dropped_by_kernel} by the kernel's socket buffer")
        assert admitted <= rate_per_source * (sent_for + 2) + rate_per_source, "more calls admitted than the rate allows"
        assert len(answers) == 5000, "INVITEs went unanswered"
        assert admitted + refused == len(answers)
        assert all(line.startswith("Retry-After: ") for line in retry_afters) and retry_afters
        assert options_answered == 10 and health_answered == 10, (options_answered, health_answered)
        assert rss_after - rss_before < 200 * 1024, "memory grew by more than 200 MiB under the burst"
    finally:
        flood.close()
        sipp.stop_all()
        server.stop()


def _udp_drops(port: int) -> int:
    """Datagrams the kernel dropped on the UDP socket bound to `port` (its receive buffer full)."""
    for line in Path("/proc/net/udp").read_text().splitlines()[1:]:
        fields = line.split()
        if int(fields[1].split(":")[1], 16) == port:
            return int(fields[-1])
    return 0


def _options(server: QualityRateServer, host: str) -> int:
    """1 when an OPTIONS (sent again every 500 ms, as a UDP client does, RFC 3261 §17.1.2.2) is
    answered 200 within 4 s — Kamailio's dispatcher waits about as long for its probes."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.bind((host, 0))
        probe.settimeout(0.5)
        port = probe.getsockname()[1]
        request = options_probe((host, port), server.sip_port)
        for _ in range(8):
            probe.sendto(request, ("127.0.0.1", server.sip_port))
            try:
                return 1 if probe.recv(65536).startswith(b"SIP/2.0 200") else 0
            except socket.timeout:
                continue
        return 0


def test_slow_and_idle_connections_are_closed_and_calls_and_health_work_under_400_descriptors(tmp_path: Path) -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, min(hard, 8192)), hard))
    server = QualityRateServer(
        tmp_path / "descriptors", prefix=("prlimit", "--nofile=400:400", "--"),
        options=("--http-idle-timeout", "4", "--sip-tcp-idle-timeout", "4", "--sip-tcp-partial-timeout", "3", "--log-level", "info",
                 "--drain-seconds", "0"))
    server.workdir.mkdir()
    sipp = Sipp(server.sip_address, tmp_path / "sipp")
    held: list[socket.socket] = []
    try:
        server.start()
        api = API(server)
        ivr = api.create_rating_ivr("7320", max_rate=5)
        api.create_did("4930777320", ivr)
        assert "open files 400" in server.log_tail(400), "the server did not see the 400-descriptor limit"
        # 500 HTTP clients sending a request head a byte at a time, 250 idle SIP/TCP clients and
        # 250 sending half a REGISTER.
        for _ in range(500):
            connection = socket.create_connection(("127.0.0.1", server.http_port), source_address=("127.0.0.81", 0))
            connection.setblocking(False)
            held.append(connection)
        for index in range(500):
            connection = socket.create_connection(("127.0.0.1", server.sip_port), source_address=("127.0.0.82", 0))
            if index % 2:
                connection.send(f"REGISTER sip:{DOMAIN} SIP/2.0\r\nVia: SIP/2.0/TCP 127.0.0.82".encode())
            connection.setblocking(False)
            held.append(connection)
        http_held = held[:500]
        for _ in range(3):
            for connection in http_held:
                try:
                    connection.send(b"G")
                except OSError:
                    pass
            time.sleep(0.5)
        # Meanwhile /health answers and a call is rated.
        with urllib.request.urlopen(f"{server.base_url}/health", timeout=5) as response:
            assert response.status == 200
        _rated_call(sipp, api, "4930777320", "under-load", ivr, since_count=0)
        refused_503 = 0
        for connection in http_held:
            try:
                refused_503 += connection.recv(200).startswith(b"HTTP/1.1 503")
            except OSError:
                pass

        def all_closed() -> bool | None:
            open_left = 0
            readable, _, _ = select.select(held, [], [], 0.5)
            for connection in held:
                if connection in readable:
                    try:
                        while connection.recv(65536):
                            pass
                    except BlockingIOError:
                        open_left += 1
                    except OSError:
                        pass
                else:
                    open_left += 1
            return True if open_left == 0 else None

        started = time.monotonic()
        eventually("every slow and idle connection closed by the server", all_closed, seconds=40)
        closed_in = time.monotonic() - started
        print(f"\n1000 connections under --nofile 400: {refused_503} HTTP ones refused at once with 503, the rest closed "
              f"by their timeouts within {closed_in:.1f} s more; /health and a rated call worked throughout")
        assert _metric(server, "qualityrate_sip_tcp_connections_timed_out_total") >= 1
        assert _metric(server, "qualityrate_http_connections_refused_total") >= 1
        # Every place was given back: no SIP/TCP connection left counted, only this scrape's HTTP one.
        assert _metric(server, "qualityrate_sip_tcp_connections ") == 0
        assert _metric(server, "qualityrate_http_connections ") == 1
        with urllib.request.urlopen(f"{server.base_url}/health", timeout=5) as response:
            assert json.load(response)["status"] == "ok"
        _rated_call(sipp, api, "4930777320", "after", ivr, since_count=1)
    finally:
        for connection in held:
            connection.close()
        sipp.stop_all()
        server.stop()
