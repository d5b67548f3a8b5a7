"""Nothing lost on stop or crash, and a health that tells the truth (issue 9), against the real
server process, real SIPp callers and real SQLite files:

- SIGTERM with calls up: new INVITEs get 503 with Retry-After while the calls up may go on for
  the drain time; then the server hangs them up, writes every call's history and exits — or
  exits as soon as the calls have ended by themselves, their history as they ended;
- kill -9 with calls up: the calls' histories were written open from their answer, and the
  next start closes them as `system`; their ratings join by `call_uuid`;
- a full disk (a small tmpfs the test mounts and fills) or a database another process holds
  locked: `/health` and SIP OPTIONS answer 503 with the reason (and so does a new INVITE), and
  200 again once space is freed or the lock released, without a restart.

Every step waits for what it depends on (a prompt heard, a rating stored, a log line, an answer),
never for a time."""

from __future__ import annotations

import errno
import json
import os
import secrets
import signal
import socket
import sqlite3
import subprocess
import sys
import urllib.error
import urllib.request
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest

from harness import API, QualityRateServer, Sipp, SippRun, eventually, tone_wav
from media import RTPListener, rfc4733_key_packets

OFFER = {"codecs": "0 8", "dtmf_pt": "101", "caller": "4940777000"}
MAX_RATE = 5
KEY = 4
SIGTERM_CALLS = 40
# The figure is 100; QR_KILL_CALLS sets another (the machine's ceiling in debug builds).
KILL_CALLS = int(os.environ.get("QR_KILL_CALLS", "100"))
# Long enough for the test to see a new INVITE refused while the calls up are draining; the calls
# (a minute of finish sound after the rating) outlast it, so the server hangs them up.
DRAIN_SECONDS = 10


def create_rate_and_stay_menu(api: API, name: str) -> int:
    """A voice menu that rates the call, then keeps the caller on the line for a minute (its
    finish sound is a minute-long tone) before hanging up: a rated call still up."""
    finish = api.upload_sound(f"long finish {name}", tone_wav(milliseconds=60_000))
    menu = api.create_extension(name, "ivr")
    context = api.request("POST", f"extension/{menu}/ivr/context/", {"name": "rate"})["id"]
    rules = f"extension/{menu}/ivr/context/{context}/options/start/rules/"
    api.request("POST", rules, {"action": "quality_rate", "max_rate": MAX_RATE, "finish_sound": finish})
    api.request("POST", rules, {"action": "hangup"})
    return menu


def place_rated_calls(sipp: Sipp, listener: RTPListener, did: str, count: int) -> SippRun:
    """`count` trunk calls to `did`, all up at once, each pressing KEY once its prompt arrives
    (sent from the port of the offer to the server's media port of the call)."""
    callers = sipp.start("trunk_call_until_bye.xml", f"{count}-callers",
                         keys={**OFFER, "did": did, "rtp_port": str(listener.port)}, seconds=300, calls=count)

    def every_prompt() -> list[tuple[str, int]] | None:
        if callers.process.poll() is not None:
            raise AssertionError(f"SIPp ended before every call was up\n{callers.report()}")
        sources = listener.sources()
        return sources if len(sources) >= count else None

    for source in eventually(f"the prompts of {count} calls", every_prompt, seconds=120):
        for packet in rfc4733_key_packets(KEY, int(OFFER["dtmf_pt"])):
            listener.send(packet, source)
    return callers


def ratings_of(api: API, since: datetime, menu: int, count: int) -> list[dict[str, Any]]:
    return eventually(f"{count} ratings", lambda: found if len(found := api.ratings(since, menu)) >= count else None,
                      seconds=60)


def histories_of(api: API, since: datetime, menu: int) -> list[dict[str, Any]]:
    return [call for call in api.call_histories(since) if call["extension_id"] == menu]


def logged(server: QualityRateServer, offset: int, text: str) -> bool:
    """Whether the server logged `text` after byte `offset` of its log (all of it, however long)."""
    return text in server.log_since(offset, limit=sys.maxsize)


def health(server: QualityRateServer) -> tuple[int, dict[str, Any]]:
    try:
        with urllib.request.urlopen(f"{server.base_url}/health", timeout=30) as response:
            return response.status, json.load(response)
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def options_status_line(server: QualityRateServer) -> str:
    """The status line of the server's answer to an OPTIONS over UDP, as a load balancer
    (Kamailio's dispatcher) probes it."""
    host, port = server.sip_host, server.sip_port
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.bind(("127.0.0.1", 0))
        probe.settimeout(2)
        local = probe.getsockname()[1]
        call_id = secrets.token_hex(8)
        for attempt in range(10):  # UDP: sent again (same transaction) until answered
            request = (
                f"OPTIONS sip:{host}:{port} SIP/2.0\r\n"
                f"Via: SIP/2.0/UDP 127.0.0.1:{local};branch=z9hG4bK{call_id};rport\r\n"
                f"Max-Forwards: 70\r\nFrom: <sip:probe@127.0.0.1>;tag={call_id[:8]}\r\nTo: <sip:{host}:{port}>\r\n"
                f"Call-ID: {call_id}@127.0.0.1\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n"
            )
            probe.sendto(request.encode(), (host, port))
            try:
                answer, _ = probe.recvfrom(65535)
            except socket.timeout:
                continue
            return answer.decode(errors="replace").split("\r\n", 1)[0]
    raise AssertionError(f"no answer to OPTIONS\n{server.log_tail()}")


def test_sigterm_refuses_new_calls_drains_then_writes_every_calls_history(tmp_path: Path) -> None:
    server = QualityRateServer(tmp_path / "stopping", options=("--drain-seconds", str(DRAIN_SECONDS)))
    server.workdir.mkdir()
    listener = RTPListener()
    sipp = Sipp(server.sip_address, tmp_path / "sipp")
    try:
        server.start()
        api = API(server)
        menu = create_rate_and_stay_menu(api, "7300")
        api.create_did("4930777300", menu)
        since = datetime.now(timezone.utc)
        callers = place_rated_calls(sipp, listener, "4930777300", SIGTERM_CALLS)
        ratings = ratings_of(api, since, menu, SIGTERM_CALLS)
        assert histories_of(api, since, menu) == [], "calls up are not in call history yet"

        log_offset = server.log_size()
        server.process.send_signal(signal.SIGTERM)
        eventually("the server refusing new calls", lambda: logged(server, log_offset, "stopping: new calls refused") or None)
        sipp.start("trunk_call_503.xml", "during-drain", keys={**OFFER, "did": "4930777300", "rtp_port": "9"},
                   seconds=15).expect_success()
        assert options_status_line(server) == "SIP/2.0 503 Service Unavailable (shutting down)"
        assert health(server) == (503, {"status": "unavailable", "reason": "shutting down"})
        # The calls outlast the drain time, so the server hangs them up, then exits.
        assert server.process.wait(timeout=DRAIN_SECONDS + 60) == 0, server.log_tail()
        assert logged(server, log_offset, "drain time over: ending the calls still up")
        callers.expect_success()  # every caller got the server's BYE and answered it

        server.serve()
        api = API(server)
        history = histories_of(api, since, menu)
        assert len(history) == SIGTERM_CALLS, f"{len(history)} of {SIGTERM_CALLS} records"
        assert {call["hangup_disposition"] for call in history} == {"system"}
        assert {call["call_uuid"] for call in history} == {rating["call_uuid"] for rating in api.ratings(since, menu)}
        assert len(api.ratings(since, menu)) == len(ratings), "ratings kept"
        assert all(call["duration"] >= 0 and call["cdr"] for call in history)
    finally:
        listener.close()
        sipp.stop_all()
        server.stop()


class PlainCaller:
    """A trunk caller over UDP written out here, for a call the test hangs up when it chooses
    (SIPp's scenarios hang up after a pause or not at all): INVITE with an offer, ACK of the 200,
    later BYE."""

    def __init__(self, server: QualityRateServer, did: str, rtp_port: int) -> None:
        self.server = server
        self.did = did
        self.rtp_port = rtp_port
        self.socket = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.socket.bind(("127.0.0.1", 0))
        self.socket.settimeout(10)
        self.port = self.socket.getsockname()[1]
        self.call_id = secrets.token_hex(8) + "@127.0.0.1"
        self.tag = secrets.token_hex(4)
        self.to = f"<sip:{did}@{server.sip_address}>"
        self.target = f"sip:{did}@{server.sip_address}"

    def _request(self, method: str, cseq: int, body: str = "") -> str:
        headers = [
            f"{method} {self.target} SIP/2.0",
            f"Via: SIP/2.0/UDP 127.0.0.1:{self.port};branch=z9hG4bK{secrets.token_hex(8)};rport",
            "Max-Forwards: 70",
            f"From: \"Trunk caller\" <sip:4940777000@127.0.0.1:{self.port}>;tag={self.tag}",
            f"To: {self.to}",
            f"Call-ID: {self.call_id}",
            f"CSeq: {cseq} {method}",
            f"Contact: <sip:4940777000@127.0.0.1:{self.port}>",
        ]
        if body:
            headers.append("Content-Type: application/sdp")
        headers.append(f"Content-Length: {len(body)}")
        return "\r\n".join(headers) + "\r\n\r\n" + body

    def _send(self, message: str) -> None:
        self.socket.sendto(message.encode(), (self.server.sip_host, self.server.sip_port))

    def _final_response(self, method: str) -> str:
        while True:
            message = self.socket.recvfrom(65535)[0].decode(errors="replace")
            status = message.split("\r\n", 1)[0]
            if f" {method}" in _header(message, "CSeq") and status.startswith("SIP/2.0 ") and not status.startswith("SIP/2.0 1"):
                return message

    def call(self) -> None:
        """Returns once answered (200) and acknowledged."""
        sdp = (f"v=0\r\no=trunk 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"
               f"m=audio {self.rtp_port} RTP/AVP 0 101\r\na=rtpmap:101 telephone-event/8000\r\na=sendrecv\r\n")
        self._send(self._request("INVITE", 1, sdp))
        answer = self._final_response("INVITE")
        assert answer.startswith("SIP/2.0 200 "), answer
        self.to = _header(answer, "To")
        contact = _header(answer, "Contact")
        self.target = contact[contact.index("<") + 1:contact.index(">")] if "<" in contact else contact
        self._send(self._request("ACK", 1))

    def hang_up(self) -> None:
        self._send(self._request("BYE", 2))
        answer = self._final_response("BYE")
        assert answer.startswith("SIP/2.0 200 "), answer

    def close(self) -> None:
        self.socket.close()


def _header(message: str, name: str) -> str:
    for line in message.split("\r\n"):
        key, _, value = line.partition(":")
        if key.strip().lower() == name.lower():
            return value.strip()
    return ""


def test_sigterm_lets_the_calls_up_end_by_themselves_and_exits_once_they_have(tmp_path: Path) -> None:
    """A drain far longer than the calls: each ends by its caller's BYE during the drain, is in
    call history as `caller_hangup`, and the server exits as soon as the last has ended."""
    server = QualityRateServer(tmp_path / "draining", options=("--drain-seconds", "600"))
    server.workdir.mkdir()
    listener = RTPListener()
    callers: list[PlainCaller] = []
    try:
        server.start()
        api = API(server)
        menu = create_rate_and_stay_menu(api, "7303")
        api.create_did("4930777303", menu)
        since = datetime.now(timezone.utc)
        callers = [PlainCaller(server, "4930777303", listener.port) for _ in range(3)]
        for caller in callers:
            caller.call()

        log_offset = server.log_size()
        server.process.send_signal(signal.SIGTERM)
        eventually("the server refusing new calls", lambda: logged(server, log_offset, "stopping: new calls refused") or None)
        for caller in callers:
            caller.hang_up()
        assert server.process.wait(timeout=60) == 0, server.log_tail()  # not the 600 s of the drain
        assert not logged(server, log_offset, "drain time over")

        server.serve()
        history = histories_of(API(server), since, menu)
        assert sorted(call["hangup_disposition"] for call in history) == ["caller_hangup"] * 3, history
    finally:
        for caller in callers:
            caller.close()
        listener.close()
        server.stop()


def test_kill_9_with_calls_up_leaves_their_history_closed_as_system_at_restart(tmp_path: Path) -> None:
    server = QualityRateServer(tmp_path / "crashing")
    server.workdir.mkdir()
    listener = RTPListener()
    sipp = Sipp(server.sip_address, tmp_path / "sipp")
    try:
        server.start()
        api = API(server)
        menu = create_rate_and_stay_menu(api, "7301")
        api.create_did("4930777301", menu)
        since = datetime.now(timezone.utc)
        place_rated_calls(sipp, listener, "4930777301", KILL_CALLS)
        ratings = ratings_of(api, since, menu, KILL_CALLS)

        assert server.process is not None
        server.process.kill()
        server.process.wait(timeout=30)
        sipp.stop_all()  # nobody will send them a BYE now

        log_offset = server.log_size()
        server.serve()
        # Closed before the restarted server answers anything (serve closes them before it serves).
        assert logged(server, log_offset, f"calls={KILL_CALLS} [qualityrate] closed the call history of calls interrupted"), \
            server.log_since(log_offset)
        api = API(server)
        history = histories_of(api, since, menu)
        assert len(history) == KILL_CALLS, f"{len(history)} of {KILL_CALLS} records"
        assert {call["hangup_disposition"] for call in history} == {"system"}
        assert all(call["duration"] >= 0 and call["cdr"] for call in history)
        by_uuid = {call["call_uuid"]: call for call in history}
        for rating in ratings:
            assert rating["call_uuid"] in by_uuid, f"the rating {rating['id']} joins no call"
    finally:
        listener.close()
        sipp.stop_all()
        server.stop()


def fill(path: Path) -> None:
    """Writes `path` until the file system has no byte left."""
    with path.open("wb", buffering=0) as filler:
        for chunk in (1 << 20, 4096, 1):
            while True:
                try:
                    filler.write(b"\0" * chunk)
                except OSError as error:
                    if error.errno != errno.ENOSPC:
                        raise
                    break


def test_health_options_and_invites_answer_503_while_the_disk_is_full_and_recover(tmp_path: Path) -> None:
    disk = tmp_path / "disk"
    disk.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=16m", "tmpfs", str(disk)], capture_output=True, text=True)
    if mounted.returncode != 0:
        pytest.fail(f"cannot mount a 16 MiB tmpfs to fill (the test needs root with CAP_SYS_ADMIN): {mounted.stderr}",
                    pytrace=False)
    server = QualityRateServer(tmp_path / "full")
    server.workdir.mkdir()
    server.database = str(disk / "sip.sqlite")  # the log stays outside, where it can still be written
    sipp = Sipp(server.sip_address, tmp_path / "sipp")
    try:
        server.start()
        assert health(server) == (200, {"status": "ok"})
        assert options_status_line(server) == "SIP/2.0 200 OK"

        filler = disk / "filler"
        fill(filler)
        status, body = eventually("/health 503", lambda: found if (found := health(server))[0] == 503 else None)
        assert body["status"] == "unavailable" and body["reason"].startswith("disk full"), body
        unavailable = eventually("OPTIONS 503", lambda: line if (line := options_status_line(server)).startswith("SIP/2.0 503 ") else None)
        assert "disk full" in unavailable, unavailable
        sipp.start("trunk_call_503.xml", "disk-full", keys={**OFFER, "did": "4930777302", "rtp_port": "9"},
                   seconds=15).expect_success()
        assert server.process is not None and server.process.poll() is None

        filler.unlink()
        eventually("/health 200", lambda: True if health(server) == (200, {"status": "ok"}) else None)
        eventually("OPTIONS 200", lambda: True if options_status_line(server) == "SIP/2.0 200 OK" else None)
    finally:
        sipp.stop_all()
        server.stop()
        subprocess.run(["umount", "--lazy", str(disk)], check=False)


def test_health_and_options_answer_503_while_the_database_is_locked_and_recover(tmp_path: Path) -> None:
    """Another process holds the database's write lock (a backup tool, an operator's sqlite3
    shell) longer than the server waits for it."""
    server = QualityRateServer(tmp_path / "locked")
    server.workdir.mkdir()
    try:
        server.start()
        assert health(server) == (200, {"status": "ok"})
        holder = sqlite3.connect(server.database, isolation_level=None, timeout=30)
        try:
            holder.execute("BEGIN EXCLUSIVE")
            status, body = eventually("/health 503", lambda: found if (found := health(server))[0] == 503 else None,
                                      seconds=60)
            assert body == {"status": "unavailable", "reason": "database locked"}, body
            assert options_status_line(server) == "SIP/2.0 503 Service Unavailable (database locked)"
        finally:
            holder.execute("ROLLBACK")
            holder.close()
        eventually("/health 200", lambda: True if health(server) == (200, {"status": "ok"}) else None, seconds=60)
        eventually("OPTIONS 200", lambda: True if options_status_line(server) == "SIP/2.0 200 OK" else None)
    finally:
        server.stop()
