"""A real `qualityrate serve` with a rating voice menu behind a DID, and SIPp trunk calls to it.

Shared by the load benchmark (`scripts/bench-sip`, `bench_sip.py`) and the malformed-message
flood test (`tests/sipflood`): both place the same rated call, `rated_call.xml`.

Only the standard library: the benchmark and the test run wherever Python 3 and SIPp are.
"""

from __future__ import annotations

import datetime
import json
import os
import pathlib
import shutil
import socket
import subprocess
import time
import urllib.parse
import urllib.request
import uuid

HERE = pathlib.Path(__file__).resolve().parent
REPOSITORY = HERE.parent.parent
RATED_CALL_SCENARIO = HERE / "rated_call.xml"
SIPP_UAS_SCENARIO = HERE / "sipp_uas.xml"
KEY_PCAP = "rfc4733-key4.pcap"  # the name rated_call.xml plays, looked up next to the scenario
FINISH_WAV = REPOSITORY / "Sources/Audio/Prompts/ratingFinish.wav"


def free_port(kind: int = socket.SOCK_STREAM, both: bool = False, host: str = "127.0.0.1") -> int:
    """A port the kernel hands out as free on `host` for `kind`, or for TCP and UDP at once
    when `both` (SIP listens on both). Ephemeral ports (32768 and up) stay clear of the RTP
    ranges the benchmark and the tests choose, which lie below."""
    for _ in range(200):
        with socket.socket(socket.AF_INET, kind) as probe:
            probe.bind((host, 0))
            port = probe.getsockname()[1]
        if not both:
            return port
        try:
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp, \
                    socket.socket(socket.AF_INET, socket.SOCK_STREAM) as tcp:
                udp.bind((host, port))
                tcp.bind((host, port))
            return port
        except OSError:
            continue
    raise RuntimeError(f"no free port on {host}")


def process_status(pid: int) -> dict[str, int]:
    """VmRSS and VmHWM in KiB, from /proc/PID/status."""
    fields = {}
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            name, _, value = line.partition(":")
            if name in ("VmRSS", "VmHWM"):
                fields[name] = int(value.split()[0])
    return fields


def _stat_fields(pid: int) -> list[str]:
    """The fields of /proc/PID/stat after the command name: [0] is field 3 (state), so field N
    of proc(5) is at N - 3."""
    with open(f"/proc/{pid}/stat") as stat:
        return stat.read().rpartition(")")[2].split()


def process_cpu_seconds(pid: int) -> float:
    """User + system CPU time of the process so far, from /proc/PID/stat."""
    fields = _stat_fields(pid)
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def process_tree_cpu_seconds(roots: list[int]) -> dict[int, float]:
    """User + system CPU time so far of each process in `roots` with its children, in one pass
    over /proc: Kamailio's workers and PostgreSQL's backends are children of one main process.
    Children still running are read one by one; those that exited count in their parent's cutime
    and cstime once it waited for them (both servers do at once)."""
    totals = {}
    for root in roots:
        fields = _stat_fields(root)
        totals[root] = sum(int(value) for value in fields[11:15])
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            fields = _stat_fields(int(entry.name))
        except OSError:
            continue  # exited since the directory was read
        parent = int(fields[1])
        if parent in totals:
            totals[parent] += int(fields[11]) + int(fields[12])
    ticks = os.sysconf("SC_CLK_TCK")
    return {root: total / ticks for root, total in totals.items()}


class Server:
    """`qualityrate setup` + `qualityrate serve` on a new SQLite file in `workdir`, all on 127.0.0.1;
    or on `database` (a `postgres://` URL) with SIP, RTP and HTTP on `host`, one node of several
    sharing that database (issue 12): `setup` runs on the first, the others serve its client."""

    def __init__(self, binary: pathlib.Path, workdir: pathlib.Path, rtp_ports: str, log_level: str = "warning",
                 options: tuple[str, ...] | None = None, trunk: str = "127.0.0.1/32", database: str | None = None,
                 host: str = "127.0.0.1", name: str = "server"):
        self.binary = binary
        # The benchmark measures what the machine carries, not the admission limits, unless the
        # options it is given say otherwise (the flood benchmark keeps the defaults).
        self.options = options if options is not None else (
            "--max-calls", "20000", "--max-call-rate", "100000", "--max-call-rate-per-source", "100000")
        self.trunk = trunk
        self.workdir = workdir
        self.database = database or str(workdir / "qualityrate.sqlite")
        self.host = host
        self.http_port = free_port(host=host)
        self.sip_port = free_port(both=True, host=host)
        self.rtp_ports = rtp_ports
        self.log_level = log_level
        self.log_path = workdir / f"{name}.log"
        self.process: subprocess.Popen | None = None
        self.log = None
        self.credentials: dict = {}

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.http_port}"

    @property
    def sip_address(self) -> str:
        return f"{self.host}:{self.sip_port}"

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def start(self, client: str = "SIP Load", domain: str = "load.test", credentials: dict | None = None) -> None:
        """Sets up `client` and serves it; given the `credentials` of a client another node set up
        on the same database, serves that one."""
        if credentials is None:
            setup = subprocess.run(
                [str(self.binary), "setup", "--client", client, "--domain", domain, "--timezone", "UTC",
                 "--database", self.database],
                check=True, capture_output=True, text=True)
            credentials = json.loads(setup.stdout)
        self.credentials = credentials
        command = [str(self.binary), "serve", "--database", self.database,
                   "--http", f"{self.host}:{self.http_port}", "--sip", self.sip_address,
                   "--trunk", self.trunk, "--rtp-ports", self.rtp_ports, "--log-level", self.log_level, *self.options]
        self.log = open(self.log_path, "ab")
        self.process = subprocess.Popen(command, stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"qualityrate serve exited with {self.process.returncode}: {self.log_tail()}")
            try:
                if self.health() == 200:
                    return
            except OSError:
                pass
            time.sleep(0.1)
        raise RuntimeError(f"qualityrate serve did not answer /health within 60 s: {self.log_tail()}")

    def health(self) -> int:
        with urllib.request.urlopen(f"{self.base_url}/health", timeout=5) as response:
            return response.status

    def trunk_calls(self) -> int:
        """Calls from trunks this server has taken since it started (`qualityrate_sip_calls_total`
        in `/metrics`): behind a proxy, how the calls were spread."""
        with urllib.request.urlopen(f"{self.base_url}/metrics", timeout=5) as response:
            for line in response.read().decode().splitlines():
                if line.startswith("qualityrate_sip_calls_total{") and 'origin="trunk"' in line:
                    return int(float(line.rsplit(" ", 1)[1]))
        return 0

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def log_tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if self.log is not None:
            self.log.close()
            self.log = None


class API:
    """The REST API with a `client_credentials` token of the application `qualityrate setup` made."""

    def __init__(self, server: Server):
        self.base_url = server.base_url
        self.client_id = server.credentials["client_id"]
        form = urllib.parse.urlencode({"grant_type": "client_credentials", "client_id": server.credentials["app_id"],
                                       "client_secret": server.credentials["app_secret"]}).encode()
        with urllib.request.urlopen(f"{self.base_url}/oauth/token", data=form, timeout=10) as response:
            self.token = json.load(response)["access_token"]

    def request(self, method: str, path: str, body: dict | None = None, raw: bytes | None = None,
                content_type: str = "application/json"):
        data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
        request = urllib.request.Request(f"{self.base_url}/api/ver1.0/{path}", data=data, method=method)
        request.add_header("Authorization", f"Bearer {self.token}")
        if data is not None:
            request.add_header("Content-Type", content_type)
        try:
            with urllib.request.urlopen(request, timeout=60) as response:
                text = response.read()
        except urllib.error.HTTPError as error:
            raise RuntimeError(f"{method} {path}: {error.code} {error.read().decode(errors='replace')}") from None
        return json.loads(text) if text else None

    def upload_sound(self, title: str, wav: pathlib.Path) -> int:
        boundary = uuid.uuid4().hex
        body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"title\"\r\n\r\n{title}\r\n"
                f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{wav.name}\"\r\n"
                f"Content-Type: audio/wav\r\n\r\n").encode() + wav.read_bytes() + f"\r\n--{boundary}--\r\n".encode()
        sound = self.request("POST", f"client/{self.client_id}/sound/", raw=body,
                             content_type=f"multipart/form-data; boundary={boundary}")
        return sound["id"]

    def configure_rated_ivr(self, ivr_name: str, did: str, max_rate: int = 5) -> int:
        """An IVR whose entry context rates the call (built-in prompt, `max_rate`, the built-in
        "thank you" uploaded as its finish sound), then hangs up; `did` is routed to it.
        Returns the IVR's extension id."""
        finish = self.upload_sound("Thank you", FINISH_WAV)
        extension = self.request("POST", f"client/{self.client_id}/extension/", {"name": ivr_name, "type": "ivr"})
        context = self.request("POST", f"extension/{extension['id']}/ivr/context/", {"name": "rate"})
        rules = f"extension/{extension['id']}/ivr/context/{context['id']}/options/start/rules/"
        self.request("POST", rules, {"action": "quality_rate", "max_rate": max_rate, "finish_sound": finish})
        # Without it the menu would wait the context's timeout (5 s) for more digits first.
        self.request("POST", rules, {"action": "hangup"})
        self.request("POST", f"client/{self.client_id}/did/", {"name": did, "extension_id": extension["id"]})
        return extension["id"]

    def ratings(self) -> list[dict]:
        """Every rating of the client from yesterday to tomorrow (UTC, the client's zone)."""
        now = datetime.datetime.now(datetime.timezone.utc)
        query = urllib.parse.urlencode({
            "start_datetime": (now - datetime.timedelta(days=1)).strftime("%Y-%m-%d %H:%M:%S"),
            "end_datetime": (now + datetime.timedelta(days=1)).strftime("%Y-%m-%d %H:%M:%S")})
        return self.request("GET", f"client/{self.client_id}/quality_rate/?{query}")


def prepare_sipp_folder(folder: pathlib.Path) -> None:
    """Copies the scenarios into `folder` with the key's pcap next to them, where SIPp looks first."""
    folder.mkdir(parents=True, exist_ok=True)
    shutil.copy(RATED_CALL_SCENARIO, folder / RATED_CALL_SCENARIO.name)
    shutil.copy(SIPP_UAS_SCENARIO, folder / SIPP_UAS_SCENARIO.name)
    subprocess.run(["python3", str(HERE / "rfc4733_pcap.py"), "--digit", "4", "--payload-type", "101",
                    str(folder / KEY_PCAP)], check=True)


def sipp_rated_calls(folder: pathlib.Path, target: str, did: str, *, calls: int, rate: float, prompt_ms: int,
                     name: str, limit: int | None = None, extra: list[str] | None = None) -> list[str]:
    """The SIPp command line placing `calls` rated calls to `did` at `target` (HOST:PORT) over UDP,
    one socket, at most `limit` at once (default all), writing its statistics every second to
    `name`.csv in `folder`."""
    return ["sipp", target, "-sf", str(folder / RATED_CALL_SCENARIO.name), "-s", did,
            "-i", "127.0.0.1", "-p", str(free_port(socket.SOCK_DGRAM)), "-mp", str(free_port(socket.SOCK_DGRAM)),
            "-t", "u1", "-r", str(rate), "-m", str(calls), "-l", str(limit or calls), "-d", str(prompt_ms),
            "-recv_timeout", "60000", "-nostdin", "-trace_stat", "-stf", str(folder / f"{name}.csv"), "-fd", "1",
            "-trace_err", "-error_file", str(folder / f"{name}-errors.log"), *(extra or [])]


def read_sipp_stats(path: pathlib.Path) -> list[dict[str, str]]:
    """The rows of a SIPp `-trace_stat` CSV file (`;`-separated, a header row first)."""
    lines = [line for line in path.read_text(errors="replace").splitlines() if line.strip()]
    if not lines:
        return []
    names = lines[0].rstrip(";").split(";")
    return [dict(zip(names, line.rstrip(";").split(";"))) for line in lines[1:]]


def flood_invite(local: tuple[str, int], sip_port: int, did: str, index: int) -> bytes:
    """The `index`-th INVITE of a flood from `local` (host, port) to `did`: an offer of PCMU to a
    port nothing reads, Call-ID `flood-INDEX`; the flood never ACKs the answers. Shared by the
    flood benchmark and the edge probe of the tests."""
    host, port = local
    sdp = f"v=0\r\no=- 1 1 IN IP4 {host}\r\ns=-\r\nc=IN IP4 {host}\r\nt=0 0\r\nm=audio 9 RTP/AVP 0\r\n"
    head = "\r\n".join([
        f"INVITE sip:{did}@127.0.0.1:{sip_port} SIP/2.0",
        f"Via: SIP/2.0/UDP {host}:{port};branch=z9hG4bK-flood-{index};rport", f"From: <sip:49401@{host}>;tag=f{index}",
        f"To: <sip:{did}@127.0.0.1>", f"Call-ID: flood-{index}", "CSeq: 1 INVITE", f"Contact: <sip:49401@{host}:{port}>",
        "Max-Forwards: 70", "Content-Type: application/sdp", f"Content-Length: {len(sdp)}"])
    return f"{head}\r\n\r\n{sdp}".encode()


def options_probe(local: tuple[str, int], sip_port: int) -> bytes:
    """An OPTIONS from `local` (host, port), as a load balancer probes a server."""
    host, port = local
    tag = uuid.uuid4().hex[:8]
    return "\r\n".join([
        f"OPTIONS sip:127.0.0.1:{sip_port} SIP/2.0", f"Via: SIP/2.0/UDP {host}:{port};branch=z9hG4bK-o{tag}",
        f"From: <sip:probe@{host}>;tag=o", "To: <sip:127.0.0.1>", f"Call-ID: options-{tag}", "CSeq: 1 OPTIONS",
        "Max-Forwards: 70", "Content-Length: 0", "", ""]).encode()


def dispatcher_states(listing: str) -> dict[str, str]:
    """Each node's flags in the output of `kamcmd dispatcher.list` (Kamailio's dispatcher, as
    deploy/kamailio/cluster.cfg runs it), by its SIP address: `AP` in service (active, probed),
    `IP` out of service (inactive, probed). Shared by bench_sip.py and tests/sip/kamailio.py."""
    states: dict[str, str] = {}
    uri = None
    for line in listing.splitlines():
        key, _, value = line.strip().partition(":")
        if key == "URI":
            uri = value.strip().removeprefix("sip:")
        elif key == "FLAGS" and uri is not None:
            states[uri] = value.strip()
    return states
