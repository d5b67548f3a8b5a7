"""Thousands of malformed SIP messages over UDP and TCP against a real `qualityrate serve`.

The messages come from `malformed.Generator` with a seed printed at the start (set
`SIPFLOOD_SEED` to replay a run). While they arrive and afterwards the server must stay up,
answer `/health` and OPTIONS over UDP and TCP, and carry a whole rated call placed by SIPp
(`Benchmarks/sip/rated_call.xml`: INVITE to a DID of a rating IVR, the prompt, key 4 as
RFC 4733, the finish prompt, BYE from the server) whose rating then appears in the REST API.
Every UDP request the parser must refuse while its Via, From, To, Call-ID and CSeq are intact
is answered 400; the server's resident memory after the flood is at most 100 MB above before.

Needs `.build/debug/qualityrate` (or `QR_BINARY`) and SIPp (`sip-tester`); scripts/test builds
and installs both. Starts its own server on free ports of 127.0.0.1.
"""

from __future__ import annotations

import collections
import os
import pathlib
import random
import socket
import subprocess
import sys
import threading
import time
import urllib.request

import pytest

HERE = pathlib.Path(__file__).resolve().parent
REPOSITORY = HERE.parent.parent
sys.path.insert(0, str(REPOSITORY / "Benchmarks" / "sip"))

import qualityrate_sip  # noqa: E402
from malformed import Generator, Message, never_ending_header  # noqa: E402

SEED = int(os.environ.get("SIPFLOOD_SEED") or random.SystemRandom().randrange(2**32))
DID = "4930555700"
IVR_NAME = "700"
UDP_MESSAGES = 3000
TCP_WORKERS = 4
TCP_MESSAGES_PER_WORKER = 400
UDP_BATCH = 25
# More than the kernel buffers on both ends of a loopback connection can hold (~10 MB).
ENDLESS_HEADER_LIMIT = 32 * 1024 * 1024
MEMORY_GROWTH_LIMIT_KIB = 100 * 1024


def status_and_call_id(data: bytes) -> tuple[int | None, str | None]:
    """The status code and Call-ID of a SIP response, read leniently."""
    lines = data.split(b"\r\n")
    status = None
    parts = lines[0].split(b" ")
    if len(parts) >= 2 and parts[0] == b"SIP/2.0" and parts[1].isdigit():
        status = int(parts[1])
    call_id = None
    for line in lines[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() in (b"call-id", b"i"):
            call_id = value.strip().decode(errors="replace")
            break
    return status, call_id


def split_responses(buffer: bytearray) -> list[bytes]:
    """Whole responses from a TCP byte stream (`Content-Length` framed); the rest stays in `buffer`."""
    responses = []
    while True:
        end = buffer.find(b"\r\n\r\n")
        if end < 0:
            return responses
        length = 0
        for line in bytes(buffer[:end]).split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            if name.strip().lower() in (b"content-length", b"l") and value.strip().isdigit():
                length = int(value.strip())
        if len(buffer) < end + 4 + length:
            return responses
        responses.append(bytes(buffer[:end + 4]))
        del buffer[:end + 4 + length]


class UDPClient:
    """One UDP socket; a thread files every response under its Call-ID."""

    def __init__(self):
        self.socket = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.socket.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8 * 1024 * 1024)
        self.socket.bind(("127.0.0.1", 0))
        self.port = self.socket.getsockname()[1]
        self.responses: dict[str, list[int]] = collections.defaultdict(list)
        self.lock = threading.Lock()
        self.arrived = threading.Condition(self.lock)
        self.running = True
        self.thread = threading.Thread(target=self.receive, daemon=True)
        self.thread.start()

    def receive(self) -> None:
        self.socket.settimeout(0.2)
        while self.running:
            try:
                data, _ = self.socket.recvfrom(70000)
            except socket.timeout:
                continue
            except OSError:
                return
            status, call_id = status_and_call_id(data)
            if status is not None and call_id is not None:
                with self.arrived:
                    self.responses[call_id].append(status)
                    self.arrived.notify_all()

    def final(self, call_id: str) -> int | None:
        with self.lock:
            finals = [status for status in self.responses.get(call_id, []) if status >= 200]
        return finals[0] if finals else None

    def wait_for_finals(self, call_ids: list[str], seconds: float) -> None:
        deadline = time.monotonic() + seconds
        with self.arrived:
            while time.monotonic() < deadline:
                if all(any(s >= 200 for s in self.responses.get(c, [])) for c in call_ids):
                    return
                self.arrived.wait(timeout=max(0.0, deadline - time.monotonic()))

    def send(self, data: bytes, address: tuple[str, int]) -> None:
        try:
            self.socket.sendto(data, address)
        except OSError:
            pass  # a datagram too large for the kernel is as good as lost

    def close(self) -> None:
        self.running = False
        self.thread.join()
        self.socket.close()


def options_over_udp(server: qualityrate_sip.Server, generator: Generator, client: UDPClient) -> int | None:
    """An OPTIONS with RFC 3261 retransmissions (500 ms doubling, up to 16 s); its final status."""
    message = generator.valid_options()
    interval = 0.5
    deadline = time.monotonic() + 16
    while time.monotonic() < deadline:
        client.send(message.data, ("127.0.0.1", server.sip_port))
        client.wait_for_finals([message.call_id], interval)
        if (status := client.final(message.call_id)) is not None:
            return status
        interval = min(interval * 2, 4)
    return None


def options_over_tcp(server: qualityrate_sip.Server, generator: Generator,
                     connection: socket.socket | None = None) -> int | str | None:
    """An OPTIONS on `connection` (a new one when None); its final status, or what went wrong."""
    message = generator.valid_options()
    try:
        if connection is None:
            with socket.create_connection(("127.0.0.1", server.sip_port), timeout=15) as new_connection:
                return options_over_tcp(server, generator, new_connection)
        connection.sendall(message.data)
        buffer = bytearray()
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            chunk = connection.recv(65536)
            if not chunk:
                return "connection closed"
            buffer += chunk
            for response in split_responses(buffer):
                status, call_id = status_and_call_id(response)
                if call_id == message.call_id and status is not None and status >= 200:
                    return status
    except OSError as error:
        return f"{type(error).__name__}: {error}"
    return None


class Prober:
    """Every half second while the flood runs: /health, OPTIONS over UDP, OPTIONS over TCP."""

    def __init__(self, server: qualityrate_sip.Server):
        self.server = server
        self.failures: list[str] = []
        self.rounds = 0
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True)

    def run(self) -> None:
        client = UDPClient()
        generator = Generator(SEED ^ 0x5EED, "UDP", f"127.0.0.1:{self.server.sip_port}", "127.0.0.1", client.port)
        tcp_generator = Generator(SEED ^ 0x7C9, "TCP", f"127.0.0.1:{self.server.sip_port}", "127.0.0.1", 5060)
        try:
            while not self.stopped.is_set():
                checks = {
                    "GET /health": lambda: self.server.health(),
                    "OPTIONS over UDP": lambda: options_over_udp(self.server, generator, client),
                    "OPTIONS over TCP": lambda: options_over_tcp(self.server, tcp_generator),
                }
                for name, check in checks.items():
                    try:
                        result = check()
                    except OSError as error:
                        result = f"{type(error).__name__}: {error}"
                    if result != 200:
                        self.failures.append(f"{name} during the flood: {result}")
                self.rounds += 1
                self.stopped.wait(0.5)
        finally:
            client.close()


def flood_udp(server: qualityrate_sip.Server, report: dict, keep_going) -> list[str]:
    """Sends UDP_MESSAGES malformed messages, and more while `keep_going()`, a valid OPTIONS
    after every tenth, in batches paced by the answers (at most half a second each); sends again
    what should have been answered and was not. Returns the failures: readable malformed
    requests not answered 400, valid OPTIONS not answered 200."""
    client = UDPClient()
    generator = Generator(SEED, "UDP", f"127.0.0.1:{server.sip_port}", "127.0.0.1", client.port)
    address = ("127.0.0.1", server.sip_port)
    expected: dict[str, tuple[int, Message]] = {}
    sent: list[Message] = []
    try:
        count = 0
        while (count < UDP_MESSAGES or keep_going()) and server.alive():
            batch = []
            for _ in range(UDP_BATCH):
                batch.append(generator.next())
                count += 1
                if count % 10 == 0:
                    batch.append(generator.valid_options())
            for message in batch:
                client.send(message.data, address)
                sent.append(message)
                if message.kind == "valid OPTIONS":
                    expected[message.call_id] = (200, message)
                elif message.expect_400:
                    expected[message.call_id] = (400, message)
            awaited = [m.call_id for m in batch if m.call_id in expected]
            client.wait_for_finals(awaited, 0.5)
        # The kernel drops datagrams when the server's receive buffer is full (a burst of 64 KiB
        # messages fills it): send again, as a client's transaction layer would, a few at a time.
        missing = []
        for _ in range(5):
            previously_missing = len(missing)
            missing = [m for call_id, (_, m) in expected.items() if client.final(call_id) is None]
            if not missing or len(missing) == previously_missing or not server.alive():
                break  # all answered, or sending again brought no answer
            for start in range(0, len(missing), 20):
                for message in missing[start:start + 20]:
                    client.send(message.data, address)
                client.wait_for_finals([m.call_id for m in missing[start:start + 20]], 1.0)
        time.sleep(0.5)  # late answers to messages nothing is expected of, for the report
        by_kind: dict[str, collections.Counter] = collections.defaultdict(collections.Counter)
        for message in sent:
            status = client.final(message.call_id) if message.call_id else None
            by_kind[message.kind][status or "none"] += 1
        report["udp"] = by_kind
        report["udp messages"] = len(sent)
        wrong: dict[tuple[str, int | None, int], list[Message]] = collections.defaultdict(list)
        for call_id, (wanted, message) in expected.items():
            if (status := client.final(call_id)) != wanted:
                wrong[(message.kind, status, wanted)].append(message)
        return [f"UDP {kind!r} answered {status or 'nothing'} (expected {wanted}) {len(messages)} times, "
                f"e.g. {messages[0].data[:300]!r}" for (kind, status, wanted), messages in wrong.items()]
    finally:
        client.close()


def flood_tcp(server: qualityrate_sip.Server, worker: int, failures: list[str], report: dict, keep_going) -> None:
    """Connections of one to five messages each, most closed without waiting (some with a reset);
    on every tenth connection a valid OPTIONS first, which must be answered 200."""
    generator = Generator(SEED + 1 + worker, "TCP", f"127.0.0.1:{server.sip_port}", "127.0.0.1", 5060)
    sent = 0
    connections = 0
    while (sent < TCP_MESSAGES_PER_WORKER or keep_going()) and server.alive():
        messages = [generator.next() for _ in range(generator.random.randint(1, 5))]
        sent += len(messages)
        connections += 1
        check_first = connections % 10 == 0
        try:
            with socket.create_connection(("127.0.0.1", server.sip_port), timeout=15) as connection:
                if check_first and (status := options_over_tcp(server, generator, connection)) != 200:
                    failures.append(f"TCP valid OPTIONS before malformed ones answered {status or 'nothing'}")
                for message in messages:
                    connection.sendall(message.data)
                if generator.random.random() < 0.2:
                    connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
        except OSError:
            pass  # the server closed a connection whose framing was lost: what it should do
    report[f"tcp worker {worker}"] = (connections, sent)


def endless_header(server: qualityrate_sip.Server, report: dict) -> None:
    """One connection sending header lines that never end; how far the server lets it go."""
    sent = 0
    outcome = f"accepted all {ENDLESS_HEADER_LIMIT} bytes without closing"
    try:
        with socket.create_connection(("127.0.0.1", server.sip_port), timeout=5) as connection:
            for chunk in never_ending_header(f"127.0.0.1:{server.sip_port}"):
                connection.sendall(chunk)
                sent += len(chunk)
                if sent >= ENDLESS_HEADER_LIMIT:
                    break
    except socket.timeout:
        outcome = f"stopped reading after {sent} bytes"
    except OSError as error:
        outcome = f"closed after {sent} bytes ({type(error).__name__})"
    report["endless header"] = outcome


def run_rated_call(folder: pathlib.Path, server: qualityrate_sip.Server, name: str) -> subprocess.Popen:
    command = qualityrate_sip.sipp_rated_calls(folder, f"127.0.0.1:{server.sip_port}", DID, calls=1, rate=1,
                                               prompt_ms=1500, name=name)
    with open(folder / f"{name}.out", "wb") as output:
        return subprocess.Popen(command, cwd=folder, stdout=output, stderr=subprocess.STDOUT)


def sipp_outcome(folder: pathlib.Path, name: str, process: subprocess.Popen) -> str | None:
    """None when SIPp's one call succeeded, else what went wrong."""
    try:
        code = process.wait(timeout=60)
    except subprocess.TimeoutExpired:
        process.kill()
        code = "timeout"
    if code == 0:
        return None
    errors = folder / f"{name}-errors.log"
    details = errors.read_text(errors="replace")[-1500:] if errors.exists() else ""
    output = (folder / f"{name}.out").read_text(errors="replace")[-1500:]
    return f"SIPp rated call {name} exited with {code}:\n{details}\n{output}"


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    binary = pathlib.Path(os.environ.get("QR_BINARY", REPOSITORY / ".build/debug/qualityrate"))
    workdir = tmp_path_factory.mktemp("sipflood")
    # Below the ephemeral ports and apart from tests/sip's RTP (21000-28800) and media (30000-32700).
    low = random.randrange(28900, 29700, 2)
    server = qualityrate_sip.Server(binary, workdir, rtp_ports=f"{low}-{low + 199}")
    try:
        server.start(client="SIP Flood", domain="flood.test")
        api = qualityrate_sip.API(server)
        ivr_id = api.configure_rated_ivr(IVR_NAME, DID)
        yield server, api, ivr_id, workdir
    finally:
        server.stop()


def test_malformed_flood_leaves_the_server_answering_and_rating(served):
    server, api, ivr_id, workdir = served
    print(f"\nSIP flood seed {SEED} (SIPFLOOD_SEED={SEED} replays this run); server log {server.log_path}")
    folder = workdir / "sipp"
    qualityrate_sip.prepare_sipp_folder(folder)
    rss_before = qualityrate_sip.process_status(server.pid)["VmRSS"]

    failures: list[str] = []
    report: dict = {}
    prober = Prober(server)
    prober.thread.start()
    call_during = run_rated_call(folder, server, "during-flood")
    # The flood goes on at least until the call placed during it has ended (at most 60 s).
    flood_deadline = time.monotonic() + 60

    def keep_going() -> bool:
        return call_during.poll() is None and time.monotonic() < flood_deadline

    workers = [threading.Thread(target=flood_tcp, args=(server, worker, failures, report, keep_going))
               for worker in range(TCP_WORKERS)]
    workers.append(threading.Thread(target=endless_header, args=(server, report)))
    for worker in workers:
        worker.start()
    failures += flood_udp(server, report, keep_going)
    for worker in workers:
        worker.join(timeout=60)
    prober.stopped.set()
    prober.thread.join(timeout=30)
    failures += prober.failures
    if str(report.get("endless header", "")).startswith("accepted all"):
        failures.append(f"a TCP header that never ends: the server {report['endless header']}")
    if problem := sipp_outcome(folder, "during-flood", call_during):
        failures.append(problem)
    if not server.alive():
        pytest.fail(f"qualityrate serve died during the flood (seed {SEED}):\n{server.log_tail()}")

    # After the flood.
    try:
        if (status := server.health()) != 200:
            failures.append(f"GET /health after the flood: {status}")
    except OSError as error:
        failures.append(f"GET /health after the flood: {error}")
    after_udp = UDPClient()
    try:
        generator = Generator(SEED ^ 0xAF7E, "UDP", f"127.0.0.1:{server.sip_port}", "127.0.0.1", after_udp.port)
        if (status := options_over_udp(server, generator, after_udp)) != 200:
            failures.append(f"OPTIONS over UDP after the flood: {status}")
    finally:
        after_udp.close()
    tcp_generator = Generator(SEED ^ 0xAF7F, "TCP", f"127.0.0.1:{server.sip_port}", "127.0.0.1", 5060)
    if (status := options_over_tcp(server, tcp_generator)) != 200:
        failures.append(f"OPTIONS over TCP after the flood: {status}")
    if problem := sipp_outcome(folder, "after-flood", run_rated_call(folder, server, "after-flood")):
        failures.append(problem)

    expected_ratings = 2 - sum("SIPp rated call" in failure for failure in failures)
    ratings: list[dict] = []
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        ratings = api.ratings()
        if len(ratings) >= expected_ratings:
            break
        time.sleep(0.5)
    if len(ratings) != 2:
        failures.append(f"{len(ratings)} ratings stored, expected 2 (one call during the flood, one after): {ratings}")
    for rating in ratings:
        if (rating["rate"], rating["extension_id"], rating["max_rate"]) != (4, ivr_id, 5):
            failures.append(f"rating {rating}: expected rate 4, extension_id {ivr_id}, max_rate 5")
    if len({rating["call_uuid"] for rating in ratings}) != len(ratings):
        failures.append(f"ratings share a call_uuid: {ratings}")

    rss_after = qualityrate_sip.process_status(server.pid)["VmRSS"]
    if rss_after - rss_before > MEMORY_GROWTH_LIMIT_KIB:
        failures.append(f"resident memory grew from {rss_before} KiB to {rss_after} KiB during the flood")
    if not server.alive():
        failures.append("qualityrate serve died after the flood")

    print(f"probes during the flood: {prober.rounds} rounds; RSS {rss_before} KiB before, {rss_after} KiB after")
    for name, value in report.items():
        if name == "udp":
            for kind, statuses in sorted(value.items()):
                print(f"  UDP {kind}: {dict(statuses)}")
        else:
            print(f"  {name}: {value}")
    if failures:
        shown = "\n".join(failures[:40])
        pytest.fail(f"seed {SEED}: {len(failures)} problems (first 40):\n{shown}\n"
                    f"server log tail:\n{server.log_tail()}", pytrace=False)
