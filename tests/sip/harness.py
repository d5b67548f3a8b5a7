"""What the SIP end-to-end tests drive: a real `qualityrate serve`, its REST API, SIPp runs and a
baresip phone. Nothing here is a stand-in: every party is the real program, on 127.0.0.1."""

from __future__ import annotations

import json
import math
import os
import secrets
import shutil
import signal
import socket
import ssl
import struct
import subprocess
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Callable, Protocol, TypeVar
from zoneinfo import ZoneInfo

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCENARIOS = Path(__file__).resolve().parent / "scenarios"
# QR_BINARY runs the tests against another build (e.g. a release build) by hand.
BINARY = Path(os.environ.get("QR_BINARY", ROOT / ".build" / "debug" / "qualityrate"))
DOMAIN = "acme.test"
ZONE = "Europe/Berlin"  # not UTC, so a window computed in the wrong zone finds nothing

T = TypeVar("T")


def require_tool(name: str, package: str) -> str:
    """The path of `name`; a missing tool fails the test loudly (scripts/test installs them)."""
    path = shutil.which(name)
    if path is None:
        pytest.fail(f"`{name}` is not installed: `apt-get install {package}` (scripts/test does it)", pytrace=False)
    return path


# Ports. The kernel hands out ephemeral ports from 32768 up, so ranges the tests choose themselves
# (the server's RTP ports, SIPp's media ports) lie below that and are checked before use.

def _bindable(port: int, kinds: tuple[int, ...], host: str = "127.0.0.1") -> bool:
    for kind in kinds:
        with socket.socket(socket.AF_INET, kind) as probe:
            try:
                probe.bind((host, port))
            except OSError:
                return False
    return True


def free_port(kinds: tuple[int, ...] = (socket.SOCK_STREAM, socket.SOCK_DGRAM), host: str = "127.0.0.1") -> int:
    """A port of `host` free for every socket type in `kinds` (SIP listens on UDP and TCP alike)."""
    for _ in range(200):
        with socket.socket(socket.AF_INET, kinds[0]) as probe:
            probe.bind((host, 0))
            port = probe.getsockname()[1]
        if _bindable(port, kinds, host):
            return port
    raise RuntimeError(f"no free port on {host}")


class PortBlocks:
    """Blocks of consecutive UDP ports below the ephemeral range, each checked free when handed out."""

    def __init__(self, first: int, last: int) -> None:
        self._next = first + 2 * secrets.randbelow((last - first) // 4)
        self._first, self._last = first, last

    def take(self, size: int) -> int:
        for _ in range(500):
            start = self._next
            self._next += size + (size % 2)
            if self._next > self._last:
                self._next = self._first
                continue
            if all(_bindable(port, (socket.SOCK_DGRAM,)) for port in range(start, start + size)):
                return start
        raise RuntimeError(f"no {size} free UDP ports in {self._first}-{self._last}")


MEDIA_PORTS = PortBlocks(30000, 32700)


# TLS.

@dataclass
class TLSCertificates:
    """A certificate authority made for one test session and a server certificate it signed for
    127.0.0.1 (and localhost): what `--tls-certificate`/`--tls-key` serve and clients trust."""

    ca: Path
    certificate: Path
    key: Path

    @classmethod
    def make(cls, directory: Path) -> "TLSCertificates":
        openssl = require_tool("openssl", "openssl")
        directory.mkdir(parents=True, exist_ok=True)
        ca, ca_key = directory / "ca.pem", directory / "ca.key"
        certificate, key, request = directory / "server.pem", directory / "server.key", directory / "server.csr"
        extensions = directory / "server.ext"
        extensions.write_text("subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\n"
                              "keyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\n")
        for command in (
            ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", ca_key, "-out", ca, "-days", "2",
             "-subj", "/CN=QualityRate test CA", "-addext", "basicConstraints=critical,CA:TRUE",
             "-addext", "keyUsage=critical,keyCertSign,cRLSign"],
            ["req", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", request, "-subj", "/CN=127.0.0.1"],
            ["x509", "-req", "-in", request, "-CA", ca, "-CAkey", ca_key, "-CAcreateserial", "-out", certificate,
             "-days", "2", "-extfile", extensions],
        ):
            made = subprocess.run([openssl, *map(str, command)], capture_output=True, text=True, timeout=60)
            if made.returncode != 0:
                pytest.fail(f"openssl {command[0]} failed ({made.returncode}):\n{made.stderr}", pytrace=False)
        return cls(ca=ca, certificate=certificate, key=key)

    def client_context(self) -> ssl.SSLContext:
        """Trusts the test CA only, and checks the server's name (127.0.0.1) against it."""
        return ssl.create_default_context(cafile=str(self.ca))


# The server.

@dataclass
class Credentials:
    client_id: int
    app_id: str
    app_secret: str


class LoggingProcess:
    """A program under test that writes its log to `log_path`: what a failing test shows of it."""

    log_path: Path

    def log_tail(self, lines: int = 80) -> str:
        if not self.log_path.exists():
            return f"(no log at {self.log_path})"
        text = self.log_path.read_text(errors="replace").splitlines()
        return "\n".join(text[-lines:])

    def log_size(self) -> int:
        return self.log_path.stat().st_size if self.log_path.exists() else 0

    def log_since(self, offset: int, limit: int = 20000) -> str:
        """What the program logged after byte `offset` (a test notes the size when it starts)."""
        with self.log_path.open("rb") as log:
            log.seek(offset)
            text = log.read().decode(errors="replace")
        return text if len(text) <= limit else "…" + text[-limit:]


class QualityRateServer(LoggingProcess):
    """`qualityrate setup` + `qualityrate serve` with SIP (and RTP) on its own ports of `sip_host`,
    taking trunk calls from `trunk` (127.0.0.1/32 unless a proxy in front is the trunk)."""

    def __init__(self, workdir: Path, options: tuple[str, ...] = (), sip_host: str = "127.0.0.1",
                 trunk: str = "127.0.0.1/32", prefix: tuple[str, ...] = (), rtp_ports: int = 400,
                 tls: TLSCertificates | None = None, database: str | None = None) -> None:
        """With `tls`: the API over HTTPS (`--https`) and SIP over TLS too (`--sip-tls`). With
        `database` (a `postgres://` URL): on that database instead of a SQLite file of its own,
        one node of several sharing it (issue 12) — `setup` runs on one of them, and the others
        take its client (`credentials`)."""
        self.workdir = workdir
        self.tls = tls
        self.sip_tls_port = free_port((socket.SOCK_STREAM,), host=sip_host) if tls else None
        self.options = options
        # A command the server runs under, e.g. `prlimit --nofile=400:400 --`.
        self.prefix = prefix
        self.sip_host = sip_host
        self.trunk = trunk
        self.database = database or str(workdir / "sip.sqlite")
        self.log_path = workdir / "serve.log"
        self.http_port = free_port((socket.SOCK_STREAM,))
        self.sip_port = free_port(host=sip_host)
        self.rtp_low = PortBlocks(21000, 28800).take(rtp_ports)
        self.rtp_high = self.rtp_low + rtp_ports - 1
        self.process: subprocess.Popen[bytes] | None = None
        self.credentials: Credentials | None = None

    @property
    def base_url(self) -> str:
        return f"{'https' if self.tls else 'http'}://127.0.0.1:{self.http_port}"

    @property
    def ssl_context(self) -> ssl.SSLContext | None:
        """What a client of the API trusts: the test CA when it is served over HTTPS."""
        return self.tls.client_context() if self.tls else None

    @property
    def sip_tls_address(self) -> str:
        assert self.sip_tls_port is not None, "the server was started without TLS"
        return f"{self.sip_host}:{self.sip_tls_port}"

    @property
    def sip_address(self) -> str:
        return f"{self.sip_host}:{self.sip_port}"

    def start(self) -> None:
        """`setup` (a new client) and `serve`."""
        self.setup()
        self.serve()

    def setup(self) -> None:
        if not BINARY.exists():
            pytest.fail(f"{BINARY} is missing: run `swift build` first", pytrace=False)
        setup = subprocess.run(
            [str(BINARY), "setup", "--client", "SIP Test", "--timezone", ZONE, "--domain", DOMAIN,
             "--database", self.database],
            capture_output=True, text=True, timeout=120,
        )
        if setup.returncode != 0:
            pytest.fail(f"qualityrate setup failed ({setup.returncode}):\n{setup.stdout}\n{setup.stderr}", pytrace=False)
        printed = json.loads(setup.stdout)
        self.credentials = Credentials(int(printed["client_id"]), printed["app_id"], printed["app_secret"])

    def serve(self) -> None:
        """Starts `serve` on the database (again, after a stop or a crash: the log goes on in the
        same file); returns once `/health` answers 200."""
        api_listener = ["--https" if self.tls else "--http", f"127.0.0.1:{self.http_port}"]
        if self.tls:
            api_listener += ["--sip-tls", self.sip_tls_address, "--tls-certificate", str(self.tls.certificate),
                             "--tls-key", str(self.tls.key)]
        command = [
            *self.prefix, str(BINARY), "serve", "--database", self.database, *api_listener,
            # Provider trunks the tests make are SIPp on loopback; nothing may go elsewhere.
            "--sip", self.sip_address, "--trunk", self.trunk, "--provider-addresses", "127.0.0.0/8",
            "--rtp-ports", f"{self.rtp_low}-{self.rtp_high}", "--log-level", "debug", *self.options,
        ]
        with self.log_path.open("ab") as log:
            log.write((" ".join(command) + "\n").encode())
            log.flush()
            self.process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                pytest.fail(f"qualityrate serve exited with {self.process.returncode}:\n{self.log_tail()}", pytrace=False)
            try:
                with urllib.request.urlopen(f"{self.base_url}/health", timeout=2, context=self.ssl_context) as response:
                    if response.status == 200:
                        return
            except OSError:
                pass
            time.sleep(0.1)
        pytest.fail(f"qualityrate serve did not answer /health within 60 s:\n{self.log_tail()}", pytrace=False)

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=10)

    def kill(self) -> None:
        """kill -9: the node dies with its calls, as in a crash (issue 12)."""
        assert self.process is not None and self.process.poll() is None, "the server is not running"
        self.process.kill()
        self.process.wait(timeout=10)


class PostgreSQL(LoggingProcess):
    """A PostgreSQL server of Debian's `postgresql` package for one test module, made as
    `start_postgres` in scripts/lib.sh makes one: initdb in a new directory owned by the
    `postgres` system user (the server refuses to run as root), listening on 127.0.0.1 at a free
    port, its superuser `qualityrate` trusted. fsync is off (the machine does not crash in a
    test; a killed server loses nothing that way), commits stay synchronous: a rating a node
    confirmed is on disk when PostgreSQL stops. The test stops and starts it at will."""

    def __init__(self) -> None:
        found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"), key=lambda path: int(path.parts[-3]))
        if not found:
            pytest.fail("PostgreSQL is not installed (no /usr/lib/postgresql/*/bin/initdb): `apt-get install postgresql` "
                        "(scripts/test does it)", pytrace=False)
        self.bin = found[-1].parent
        require_tool("runuser", "util-linux")
        # Not under pytest's temporary directory: its parents are private to root, and the
        # `postgres` user must reach its own directory.
        self.directory = Path(tempfile.mkdtemp(prefix="qualityrate-postgres-"))
        shutil.chown(self.directory, "postgres", "postgres")
        self.data = self.directory / "data"
        self.log_path = self.directory / "server.log"
        self.port = free_port((socket.SOCK_STREAM,))

    def url(self, database: str) -> str:
        return f"postgres://qualityrate@127.0.0.1:{self.port}/{database}?sslmode=disable"

    def _run(self, what: str, command: list[str], as_postgres: bool = True) -> None:
        prefix = ["runuser", "-u", "postgres", "--"] if as_postgres else []
        done = subprocess.run([*prefix, *command], capture_output=True, text=True, timeout=120)
        if done.returncode != 0:
            pytest.fail(f"PostgreSQL {what} failed ({done.returncode}):\n{done.stdout}\n{done.stderr}\n{self.log_tail()}",
                        pytrace=False)

    def start(self) -> None:
        """Creates the cluster the first time; starts the server and returns once it takes connections."""
        if not self.data.exists():
            self._run("initdb", [str(self.bin / "initdb"), "-D", str(self.data), "-U", "qualityrate", "--auth=trust",
                                 "-E", "UTF8", "--locale=C.UTF-8"])
        options = (f"-c listen_addresses=127.0.0.1 -p {self.port} -k {self.directory} -c fsync=off "
                   "-c full_page_writes=off -c max_connections=400")
        self._run("start", [str(self.bin / "pg_ctl"), "-D", str(self.data), "-l", str(self.log_path), "-w", "-t", "60",
                            "start", "-o", options])

    def stop(self) -> None:
        """A fast shutdown: sessions are ended, what was committed stays."""
        self._run("stop", [str(self.bin / "pg_ctl"), "-D", str(self.data), "-m", "fast", "-w", "-t", "60", "stop"])

    def create_database(self, name: str) -> str:
        """A new database; its URL."""
        self._run(f"createdb {name}", [str(self.bin / "createdb"), "-h", "127.0.0.1", "-p", str(self.port),
                                       "-U", "qualityrate", name], as_postgres=False)
        return self.url(name)

    def remove(self) -> None:
        if (self.data / "postmaster.pid").exists():
            subprocess.run(["runuser", "-u", "postgres", "--", str(self.bin / "pg_ctl"), "-D", str(self.data), "-m",
                            "immediate", "-w", "stop"], capture_output=True, timeout=60)
        shutil.rmtree(self.directory, ignore_errors=True)


# The REST API.

class APIError(AssertionError):
    pass


class API:
    """The REST API of the server, as the client made by `qualityrate setup`."""

    def __init__(self, server: QualityRateServer) -> None:
        assert server.credentials is not None
        self.base_url = server.base_url
        self.ssl_context = server.ssl_context
        self.client_id = server.credentials.client_id
        self.zone = ZoneInfo(ZONE)
        form = urllib.parse.urlencode({
            "grant_type": "client_credentials",
            "client_id": server.credentials.app_id,
            "client_secret": server.credentials.app_secret,
        }).encode()
        request = urllib.request.Request(f"{self.base_url}/oauth/token", data=form, method="POST")
        with urllib.request.urlopen(request, timeout=10, context=self.ssl_context) as response:
            self.token = json.load(response)["access_token"]

    def request(self, method: str, path: str, body: Any = None, expect: tuple[int, ...] = (200, 201, 204)) -> Any:
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(f"{self.base_url}/api/ver1.0/{path}", data=data, method=method)
        request.add_header("Authorization", f"Bearer {self.token}")
        if data is not None:
            request.add_header("Content-Type", "application/json")
        try:
            with urllib.request.urlopen(request, timeout=15, context=self.ssl_context) as response:
                status, raw = response.status, response.read()
        except urllib.error.HTTPError as error:
            status, raw = error.code, error.read()
        if status not in expect:
            raise APIError(f"{method} {path} {json.dumps(body) if body is not None else ''} answered {status}: "
                           f"{raw.decode(errors='replace')}")
        return json.loads(raw) if raw else None

    # configuration

    def create_extension(self, name: str, kind: str, **fields: Any) -> int:
        body = {"name": name, "type": kind, **fields}
        return self.request("POST", f"client/{self.client_id}/extension/", body)["id"]

    def create_phone(self, name: str, password: str) -> int:
        return self.create_extension(name, "phone", password=password)

    def create_did(self, number: str, extension_id: int) -> int:
        return self.request("POST", f"client/{self.client_id}/did/", {"name": number, "extension_id": extension_id})["id"]

    def upload_sound(self, title: str, wav: bytes) -> int:
        boundary = "sip-e2e-" + secrets.token_hex(8)
        body = (
            f"--{boundary}\r\nContent-Disposition: form-data; name=\"title\"\r\n\r\n{title}\r\n"
            f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"finish.wav\"\r\n"
            f"Content-Type: audio/wav\r\n\r\n"
        ).encode() + wav + f"\r\n--{boundary}--\r\n".encode()
        request = urllib.request.Request(f"{self.base_url}/api/ver1.0/client/{self.client_id}/sound/", data=body,
                                         method="POST")
        request.add_header("Authorization", f"Bearer {self.token}")
        request.add_header("Content-Type", f"multipart/form-data; boundary={boundary}")
        with urllib.request.urlopen(request, timeout=15, context=self.ssl_context) as response:
            return json.load(response)["id"]

    def create_rating_ivr(self, name: str, max_rate: int) -> int:
        """A voice menu whose entry context rates the call (`quality_rate` with the built-in prompt
        and a short tone as its finish sound) and then hangs up."""
        finish = self.upload_sound(f"finish {name}", tone_wav(milliseconds=600))
        ivr = self.create_extension(name, "ivr")
        context = self.request("POST", f"extension/{ivr}/ivr/context/", {"name": "rate"})["id"]
        options = self.request("GET", f"extension/{ivr}/ivr/")
        assert options["entry_context"] == context, options
        rules = f"extension/{ivr}/ivr/context/{context}/options/start/rules/"
        self.request("POST", rules, {"action": "quality_rate", "max_rate": max_rate, "finish_sound": finish})
        self.request("POST", rules, {"action": "hangup"})
        return ivr

    def create_rating_queue(self, name: str, agents: list[int], quality_rate_max: int) -> int:
        """A ring-all queue of `agents` that rates the agent when the agent hangs up first."""
        return self.create_queue(name, agents, agent_hangup_action="quality_rate", quality_rate_max=quality_rate_max)

    def create_queue(self, name: str, agents: list[int], **options: Any) -> int:
        """A ring-all queue of `agents` with the given queue options (SPEC §4.1)."""
        queue = self.create_extension(name, "queue")
        self.request("PUT", f"extension/{queue}/queue/", {"strategy": "ring-all", **options})
        for agent in agents:
            self.request("POST", f"extension/{queue}/queue/agent/", {"extension_id": agent})
        return queue

    def callback(self, initiator: int, sources: list[str], destination: str, **transfers: str) -> str:
        body = {"src_num": sources, "dst_num": destination, **transfers}
        return self.request("POST", f"extension/{initiator}/callback/", body, expect=(201,))["call_uuid"]

    # what calls left behind

    def window(self, since: datetime) -> dict[str, str]:
        """The period from `since` (UTC) to a minute from now, in the client's zone."""
        def local(moment: datetime) -> str:
            return moment.astimezone(self.zone).strftime("%Y-%m-%d %H:%M:%S")
        return {"start_datetime": local(since - timedelta(seconds=2)),
                "end_datetime": local(datetime.now(timezone.utc) + timedelta(seconds=60))}

    def ratings(self, since: datetime, extension_id: int) -> list[dict[str, Any]]:
        query = urllib.parse.urlencode({**self.window(since), "extension_id": extension_id, "with_agent": "true"})
        return self.request("GET", f"client/{self.client_id}/quality_rate/?{query}")

    def statistics(self, since: datetime, extension_id: int) -> list[dict[str, Any]]:
        """The buckets of `extension_id`'s statistics since `since` (no interval: one bucket or none)."""
        query = urllib.parse.urlencode({**self.window(since), "extension_id": extension_id})
        return self.request("GET", f"client/{self.client_id}/quality_rate/statistics/?{query}")["buckets"]

    def call_histories(self, since: datetime) -> list[dict[str, Any]]:
        query = urllib.parse.urlencode(self.window(since))
        return self.request("GET", f"client/{self.client_id}/call_history/?{query}")

    def call_history(self, call_uuid: str) -> dict[str, Any] | None:
        """The call's history, or None while there is none (it is written when the call ends)."""
        found = self.request("GET", f"client/{self.client_id}/call_history/{call_uuid}", expect=(200, 404))
        return None if "error" in found else found

    def the_rating(self, since: datetime, extension_id: int) -> dict[str, Any]:
        """The one rating of `extension_id` since `since`, once it is there (more than one fails)."""
        ratings = eventually(f"a rating of extension {extension_id}", lambda: self.ratings(since, extension_id) or None)
        time.sleep(0.5)  # a second rating of the same call would be a bug to catch, not to miss
        ratings = self.ratings(since, extension_id)
        assert len(ratings) == 1, f"expected one rating of extension {extension_id}, found {ratings}"
        return ratings[0]

    def the_call_history(self, call_uuid: str) -> dict[str, Any]:
        return eventually(f"call history of {call_uuid}", lambda: self.call_history(call_uuid))

    def the_call_of(self, since: datetime, extension_id: int) -> dict[str, Any]:
        """The one call history record since `since` whose call reached `extension_id` first."""
        def find() -> list[dict[str, Any]] | None:
            return [c for c in self.call_histories(since) if c["extension_id"] == extension_id] or None
        calls = eventually(f"call history of a call to extension {extension_id}", find)
        assert len(calls) == 1, f"expected one call to extension {extension_id}, found {calls}"
        return calls[0]


def tone_wav(milliseconds: int, hertz: int = 440) -> bytes:
    """A WAV file (8 kHz mono 16-bit PCM) of a sine tone."""
    samples = b"".join(
        struct.pack("<h", int(8000 * math.sin(2 * math.pi * hertz * n / 8000))) for n in range(8 * milliseconds)
    )
    fmt = struct.pack("<HHIIHH", 1, 1, 8000, 16000, 2, 16)
    chunks = b"fmt " + struct.pack("<I", len(fmt)) + fmt + b"data" + struct.pack("<I", len(samples)) + samples
    return b"RIFF" + struct.pack("<I", 4 + len(chunks)) + b"WAVE" + chunks


def eventually(what: str, probe: Callable[[], T | None], seconds: float = 10) -> T:
    """Polls `probe` until it returns something other than None (a rating is written when the key
    is pressed, call history when the call ends: both just after SIP has finished)."""
    deadline = time.monotonic() + seconds
    while True:
        outcome = probe()
        if outcome is not None:
            return outcome
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not there after {seconds:.0f} s")
        time.sleep(0.2)


class Numbers:
    """Extension names and DID numbers no other test of the session uses."""

    def __init__(self) -> None:
        self._next = 0
        self.session = f"{secrets.randbelow(9000) + 1000}"

    def extension(self) -> str:
        self._next += 1
        return f"7{self._next:03d}"

    def did(self) -> str:
        self._next += 1
        return f"4930{self.session}{self._next:04d}"


def new_password() -> str:
    return "Pw-" + secrets.token_hex(8)


# SIPp.

@dataclass
class SippRun:
    label: str
    directory: Path
    process: subprocess.Popen[bytes]
    port: int
    command: list[str]
    finished: int | None = None

    def wait(self, seconds: float = 60) -> int:
        try:
            self.finished = self.process.wait(timeout=seconds)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.finished = self.process.wait()
        return self.finished

    def expect_success(self, seconds: float = 60) -> None:
        code = self.wait(seconds)
        if code != 0:
            raise AssertionError(f"SIPp {self.label} exited with {code} (0 = its call succeeded)\n{self.report()}")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            self.wait(10)

    def messages(self) -> str:
        path = self.directory / "messages.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def exchanged(self) -> list[tuple[datetime, str, str]]:
        """The SIP messages SIPp sent and received, in order: when (SIPp's local clock), "sent" or
        "received", and the message as text."""
        found = []
        for entry in self.messages().split("----------------------------------------------- "):
            lines = entry.split("\n", 2)  # the time, "UDP message sent (N bytes):" or "… received [N] bytes :", the message
            if len(lines) < 3:
                continue
            for direction in ("sent", "received"):
                if f" message {direction} " in lines[1]:
                    moment = datetime.strptime(lines[0].strip(), "%Y-%m-%d %H:%M:%S.%f")
                    found.append((moment, direction, lines[2].strip("\n")))
        return found

    def received(self) -> list[str]:
        """The SIP messages SIPp received, in order, each as text."""
        return [message for _, direction, message in self.exchanged() if direction == "received"]

    def report(self) -> str:
        parts = [f"command: {' '.join(self.command)}", f"logs in {self.directory}"]
        for name, limit in (("errors.log", 6000), ("logs.log", 3000), ("messages.log", 12000), ("output.log", 3000)):
            path = self.directory / name
            if path.exists():
                text = path.read_text(errors="replace")
                text = text if len(text) <= limit else "…" + text[-limit:]
                parts.append(f"--- SIPp {name} ---\n{text.strip()}")
        return "\n".join(parts)


class Sipp:
    """Starts SIPp runs of the committed scenarios: one call each (-m 1), bounded in time so a hung
    call fails in seconds, every message and error logged to the run's own directory. Runs send
    to `remote`: the server's SIP address, or that of a proxy in front of it."""

    def __init__(self, remote: str, directory: Path) -> None:
        self.binary = require_tool("sipp", "sip-tester")
        self.remote = remote
        self.directory = directory
        self.runs: list[SippRun] = []

    def start(
        self,
        scenario: str,
        label: str,
        *,
        keys: dict[str, str] | None = None,
        local_ip: str = "127.0.0.1",
        port: int | None = None,
        service: str = "trunk",
        password: str | None = None,
        auth_uri: str | None = None,
        transport: str = "u1",
        files: dict[str, bytes] | None = None,
        seconds: int = 30,
        calls: int = 1,
        rate: int | None = None,
    ) -> SippRun:
        """One call, or `calls` at once (SIPp's default rate, all of them up together), or `calls`
        placed `rate` a second."""
        directory = self.directory / f"{len(self.runs) + 1:02d}-{label}"
        directory.mkdir(parents=True)
        shutil.copy(SCENARIOS / scenario, directory / scenario)
        for name, content in (files or {}).items():
            (directory / name).write_bytes(content)
        port = port or free_port()
        media_port = MEDIA_PORTS.take(4)
        command = [
            self.binary, self.remote,
            "-sf", str(directory / scenario),
            "-i", local_ip, "-p", str(port), "-mi", local_ip, "-mp", str(media_port),
            "-t", transport, "-s", service, "-m", str(calls), "-l", str(calls), "-nostdin",
            "-timeout", f"{seconds}s", "-timeout_error", "-recv_timeout", "15000",
            "-trace_msg", "-message_file", str(directory / "messages.log"),
            "-trace_err", "-error_file", str(directory / "errors.log"),
            "-trace_logs", "-log_file", str(directory / "logs.log"),
        ]
        if rate is not None:
            command += ["-r", str(rate), "-rp", "1000"]
        if password is not None:
            command += ["-au", service, "-ap", password]
        if auth_uri is not None:
            command += ["-auth_uri", auth_uri]
        for key, value in (keys or {}).items():
            command += ["-key", key, value]
        with (directory / "output.log").open("wb") as output:
            process = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=output, stderr=subprocess.STDOUT,
                                       cwd=directory, start_new_session=True)
        run = SippRun(label, directory, process, port, command)
        self.runs.append(run)
        return run

    def register(self, name: str, password: str, port: int | None = None, transport: str = "u1") -> SippRun:
        """REGISTERs `name` with digest authentication; returns once the server said 200."""
        run = self.start("register.xml", f"register-{name}", keys={"domain": DOMAIN}, port=port, service=name,
                         password=password, auth_uri=DOMAIN, transport=transport, seconds=15)
        run.expect_success()
        return run

    def stop_all(self) -> None:
        for run in self.runs:
            run.stop()

    def report(self) -> str:
        return "\n\n".join(f"=== SIPp run {run.label} (exit {run.finished}) ===\n{run.report()}" for run in self.runs)


class LoggingServer(Protocol):
    """A server whose log file a failing test shows (`qualityrate serve`, Kamailio)."""

    log_path: Path

    def log_size(self) -> int: ...

    def log_since(self, offset: int) -> str: ...


@dataclass
class FailureReport:
    """What a failing test shows (conftest.py adds it to the report): the SIPp runs of its
    launchers, and what each watched server logged while it ran."""

    launchers: list[Sipp] = field(default_factory=list)
    logs: list[tuple[str, Callable[[], str]]] = field(default_factory=list)

    def watch(self, title: str, server: LoggingServer) -> None:
        offset = server.log_size()
        self.logs.append((f"{title} during the test ({server.log_path})", lambda: server.log_since(offset)))


def sdp_of_final_answer(run: SippRun, method: str = "INVITE") -> dict[str, Any]:
    """The SDP of the 200 OK to the first `method` that SIPp received: its `m=audio` port and
    payload types, and `a=rtpmap` names by payload type."""
    for message in run.received():
        message = message.replace("\r\n", "\n")
        if message.startswith("SIP/2.0 200") and f" {method}" in _header(message, "CSeq"):
            body = message.partition("\n\n")[2]
            audio = next(line for line in body.splitlines() if line.startswith("m=audio "))
            fields = audio.split()
            rtpmap = {}
            for line in body.splitlines():
                if line.startswith("a=rtpmap:"):
                    number, _, name = line[len("a=rtpmap:"):].partition(" ")
                    rtpmap[int(number)] = name.strip()
            return {"port": int(fields[1]), "payload_types": [int(f) for f in fields[3:]], "rtpmap": rtpmap}
    raise AssertionError(f"SIPp {run.label} received no 200 OK with SDP to {method}\n{run.report()}")


def _header(message: str, name: str) -> str:
    for line in message.splitlines():
        key, _, value = line.partition(":")
        if key.strip().lower() == name.lower():
            return value.strip()
    return ""


# baresip.

@dataclass
class Baresip:
    """baresip 1.0.0 as a registered phone, with a private config directory, auto-answer and
    audio through the `aubridge` module (the caller's audio comes back to it; no sound card),
    driven over its `ctrl_tcp` JSON netstring interface."""

    directory: Path
    name: str
    password: str
    sip_address: str
    # With `ca`: `sip_address` is the server's TLS address, reached over TLS (the CA in
    # `sip_cafile`), and media must be SRTP with SDES keys (`mediaenc=srtp-mand`).
    ca: Path | None = None
    process: subprocess.Popen[bytes] | None = None
    control: socket.socket | None = None
    events: list[dict[str, Any]] = field(default_factory=list)
    responses: list[dict[str, Any]] = field(default_factory=list)
    _buffer: bytes = b""

    def start(self) -> None:
        binary = require_tool("baresip", "baresip")
        self.directory.mkdir(parents=True)
        sip_port = free_port()
        control_port = free_port((socket.SOCK_STREAM,))
        rtp_low = MEDIA_PORTS.take(20)
        (self.directory / "config").write_text("\n".join([
            "poll_method\tepoll",
            f"sip_listen\t127.0.0.1:{sip_port}",
            "net_interface\t127.0.0.1",
            f"rtp_ports\t{rtp_low}-{rtp_low + 19}",
            "module_path\t/usr/lib/baresip/modules",
            "module\tg711.so",
            "module\taubridge.so",
            *(["module\tsrtp.so", f"sip_cafile\t{self.ca}"] if self.ca else []),
            "module_app\taccount.so",
            "module_app\tmenu.so",
            "module_app\tctrl_tcp.so",
            f"ctrl_tcp_listen\t127.0.0.1:{control_port}",
            "audio_player\taubridge,agent",
            "audio_source\taubridge,agent",
            "audio_alert\taubridge,agent",
            "",
        ]))
        transport = "tls" if self.ca else "udp"
        (self.directory / "accounts").write_text(
            f"<sip:{self.name}@{DOMAIN};transport={transport}>;auth_pass={self.password};"
            f"outbound=\"sip:{self.sip_address};transport={transport}\";regint=300;answermode=auto"
            + (";mediaenc=srtp-mand" if self.ca else "") + "\n"
        )
        (self.directory / "contacts").write_text("")
        with (self.directory / "output.log").open("wb") as output:
            self.process = subprocess.Popen([binary, "-4", "-v", "-f", str(self.directory)], stdin=subprocess.DEVNULL,
                                            stdout=output, stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + 15
        while self.control is None:
            try:
                self.control = socket.create_connection(("127.0.0.1", control_port), timeout=1)
            except OSError:
                if self.process.poll() is not None or time.monotonic() > deadline:
                    raise AssertionError(f"baresip did not open its control port\n{self.report()}")
                time.sleep(0.1)

    def wait_until_registered(self, seconds: float = 15) -> None:
        """Asks `reginfo` until the account shows OK (registration events may come before the
        control connection does, so they cannot be waited for)."""
        deadline = time.monotonic() + seconds
        while True:
            info = self.command("reginfo")
            if "OK" in info:
                return
            if time.monotonic() > deadline:
                raise AssertionError(f"baresip did not register within {seconds:.0f} s: {info!r}\n{self.report()}")
            time.sleep(0.2)

    def wait_for_event(self, kind: str, seconds: float = 15) -> dict[str, Any]:
        """The next event of `kind` (CALL_ESTABLISHED, CALL_CLOSED …)."""
        deadline = time.monotonic() + seconds
        while True:
            for index, event in enumerate(self.events):
                if event.get("type") == kind:
                    del self.events[: index + 1]
                    return event
            if not self._read(deadline):
                raise AssertionError(f"baresip: no {kind} event within {seconds:.0f} s "
                                     f"(events: {self.events})\n{self.report()}")

    def command(self, command: str, params: str = "") -> str:
        """Runs a command (those of the `menu` module) and returns its text answer."""
        assert self.control is not None
        token = f"{command}-{secrets.token_hex(4)}"
        payload = json.dumps({"command": command, "params": params, "token": token}).encode()
        self.control.sendall(str(len(payload)).encode() + b":" + payload + b",")
        deadline = time.monotonic() + 10
        while True:
            for index, response in enumerate(self.responses):
                if response.get("token") == token:
                    del self.responses[index]
                    if not response.get("ok"):
                        raise AssertionError(f"baresip refused `{command}`: {response}\n{self.report()}")
                    return str(response.get("data", ""))
            if not self._read(deadline):
                raise AssertionError(f"baresip did not answer `{command}`\n{self.report()}")

    def _read(self, deadline: float) -> bool:
        """Reads what baresip sent until `deadline`; False when nothing came."""
        assert self.control is not None
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return False
        self.control.settimeout(remaining)
        try:
            chunk = self.control.recv(65536)
        except socket.timeout:
            return False
        if not chunk:
            raise AssertionError(f"baresip closed its control connection\n{self.report()}")
        self._buffer += chunk
        while b":" in self._buffer:  # netstrings: LENGTH ":" JSON ","
            length_text, _, rest = self._buffer.partition(b":")
            length = int(length_text)
            if len(rest) < length + 1:
                break
            message = json.loads(rest[:length])
            self._buffer = rest[length + 1:]
            (self.events if message.get("event") else self.responses).append(message)
        return True

    def stop(self) -> None:
        """`quit` (it unregisters first), then a signal if it lingers."""
        if self.control is not None:
            try:
                self.command("quit")
            except (OSError, AssertionError):
                pass
            self.control.close()
        if self.process is not None and self.process.poll() is None:
            for stop in (lambda: None, self.process.terminate, self.process.kill):
                stop()
                try:
                    self.process.wait(timeout=4)
                    break
                except subprocess.TimeoutExpired:
                    continue

    def report(self) -> str:
        path = self.directory / "output.log"
        text = path.read_text(errors="replace") if path.exists() else ""
        return f"--- baresip output ({path}) ---\n{text[-8000:]}"

