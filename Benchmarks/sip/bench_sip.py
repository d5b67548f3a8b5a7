#!/usr/bin/env python3
"""SIP load benchmark behind scripts/bench-sip (see docs/BENCHMARKS.md).

Full rated IVR calls placed by SIPp (`rated_call.xml`) at rising call rates against release
`qualityrate serve` processes: INVITE to a DID routed to a voice menu with a `quality_rate` rule,
200/ACK, the rating prompt for `--prompt-ms`, key 4 as RFC 4733, the finish prompt, BYE from the
server, 200. The same calls run against each topology of `--topologies` in turn (issue 12):

- `sqlite`: one node on a SQLite file of its own, SIPp sending to it;
- `postgres`: one node on a PostgreSQL database (`--postgres`, a server already running), SIPp
  sending to it;
- `cluster`: three nodes on 127.0.0.11–13 sharing one PostgreSQL database, behind Kamailio on
  127.0.0.10 running deploy/kamailio/cluster.cfg (round-robin over the nodes); SIPp sends to
  Kamailio, which record-routes, so every request of a call passes through it; RTP goes straight
  between SIPp and the node.

Then the same calls against SIPp's own UAS (`sipp_uas.xml`, which answers and hangs up after as
long as the server's prompt, key and finish take) at the same rates: the ceiling of this machine
for SIPp's side of the calls.

Per step: calls attempted, succeeded and failed (SIPp's `-trace_stat` CSV), ratings stored during
the step (REST API), the peak of concurrent calls (SIPp's CurrentCall), the rate SIPp reached,
the mean INVITE→200 time and the INVITEs answered later than 500 ms, retransmissions on both
sides (signs of a lagging peer), the nodes' CPU (% of one core, all nodes together) and resident
memory sampled every second from /proc, CPU-ms per call of the nodes, of PostgreSQL (the
postmaster and its backends) and of Kamailio (its main process and workers), KiB per concurrent
call (the nodes' peak RSS above their idle RSS before the first step, over the peak of
concurrent calls), and the calls each node took. Before the first step, each process group's CPU
with no call up. Prints a table per topology, the highest rate with no failed call and every
rating stored and the highest with every answer within 500 ms, and a summary comparing the
topologies; writes everything to WORKDIR/results.json.
"""

from __future__ import annotations

import argparse
import json
import pathlib
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.parse
from dataclasses import dataclass, field
from typing import Callable

import qualityrate_sip
from qualityrate_sip import API, REPOSITORY, Server, dispatcher_states

DID = "4930555900"
IVR_NAME = "900"
FINISH_AND_KEY_MS = 3500  # the key (160 ms) and the built-in "thank you" (3.3 s) the server plays

TOPOLOGIES = {
    "sqlite": "one node on SQLite",
    "postgres": "one node on PostgreSQL",
    "cluster": "three nodes behind Kamailio on PostgreSQL",
}
KAMAILIO_HOST = "127.0.0.10"
NODE_HOSTS = ("127.0.0.11", "127.0.0.12", "127.0.0.13")
CLUSTER_CONFIG = REPOSITORY / "deploy" / "kamailio" / "cluster.cfg"
# The CPU each step counts, by process group: what answers the calls (the QualityRate nodes, or
# SIPp's UAS for the ceiling), the database server, the proxy; and SIPp placing the calls.
GROUP_NAMES = {"answering": "QualityRate", "postgres": "PostgreSQL", "kamailio": "Kamailio", "sipp": "SIPp"}


class Sampler:
    """CPU seconds of groups of processes (each with its children) and the VmRSS of the
    processes named, once a second, on a thread."""

    def __init__(self, groups: dict[str, list[int]]):
        self.groups = groups
        self.samples: list[dict] = []
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    def sample(self) -> dict:
        row = {"time": time.monotonic()}
        roots = [pid for pids in self.groups.values() for pid in pids]
        try:
            cpu = qualityrate_sip.process_tree_cpu_seconds(roots)
            for name, pids in self.groups.items():
                row[f"{name}_cpu"] = sum(cpu[pid] for pid in pids)
                row[f"{name}_rss"] = sum(qualityrate_sip.process_status(pid)["VmRSS"] for pid in pids)
        except (OSError, KeyError):
            pass  # a process has ended (SIPp, at the end of its step): the sample before it counts
        return row

    def run(self) -> None:
        while not self.stopped.is_set():
            self.samples.append(self.sample())
            self.stopped.wait(1.0)

    def stop(self) -> list[dict]:
        self.stopped.set()
        self.thread.join()
        self.samples.append(self.sample())
        return self.samples


def cpu_percent(samples: list[dict], name: str) -> tuple[float, float, float]:
    """(CPU seconds over the samples, mean %, peak % over any one-second interval) of `name`."""
    points = [(s["time"], s[f"{name}_cpu"]) for s in samples if f"{name}_cpu" in s]
    if len(points) < 2:
        return 0.0, 0.0, 0.0
    used = points[-1][1] - points[0][1]
    wall = points[-1][0] - points[0][0]
    peaks = [(b[1] - a[1]) / (b[0] - a[0]) * 100 for a, b in zip(points, points[1:]) if b[0] > a[0]]
    return used, used / wall * 100 if wall else 0.0, max(peaks, default=0.0)


@dataclass
class Deployment:
    """What answers the calls of one topology: the address SIPp sends to, the processes whose CPU
    is counted (by group), what stops them; for QualityRate, the API ratings are counted through
    and the voice menu they must be of."""
    label: str
    title: str
    target: str
    processes: dict[str, list[int]] = field(default_factory=dict)
    stops: list[Callable[[], None]] = field(default_factory=list)
    api: API | None = None
    ivr_id: int | None = None
    nodes: list[Server] = field(default_factory=list)

    def stop(self) -> None:
        for stop in reversed(self.stops):
            stop()


def run_step(folder: pathlib.Path, deployment: Deployment, rate: int, arguments, idle_rss: int) -> dict:
    """One step at `rate` against `deployment`."""
    calls = rate * arguments.step_seconds
    name = f"{deployment.label}-{rate}cps"
    command = qualityrate_sip.sipp_rated_calls(
        folder, deployment.target, DID, calls=calls, rate=rate, prompt_ms=arguments.prompt_ms, name=name,
        limit=arguments.limit, extra=["-max_recv_loops", "10000", "-max_sched_loops", "10000"])
    api = deployment.api
    ratings_before = len(api.ratings()) if api else 0
    calls_before = [node.trunk_calls() for node in deployment.nodes]
    rss_before = sum(qualityrate_sip.process_status(pid)["VmRSS"] for pid in deployment.processes["answering"])
    started = time.monotonic()
    with open(folder / f"{name}.out", "wb") as output:
        sipp = subprocess.Popen(command, cwd=folder, stdout=output, stderr=subprocess.STDOUT)
        sampler = Sampler({**deployment.processes, "sipp": [sipp.pid]})
        try:
            sipp.wait(timeout=arguments.step_seconds + arguments.prompt_ms / 1000 + 150)
        except subprocess.TimeoutExpired:
            sipp.send_signal(signal.SIGUSR1)  # SIPp's "stop now": ends the calls in progress
            try:
                sipp.wait(timeout=30)
            except subprocess.TimeoutExpired:
                sipp.kill()
                sipp.wait()
        samples = sampler.stop()
    wall = time.monotonic() - started
    stats = qualityrate_sip.read_sipp_stats(folder / f"{name}.csv") if (folder / f"{name}.csv").exists() else []
    last = stats[-1] if stats else {}
    created = int(last.get("TotalCallCreated", 0) or 0)
    succeeded = int(last.get("SuccessfulCall(C)", 0) or 0)
    failed = int(last.get("FailedCall(C)", 0) or 0)
    peak_concurrent = max((int(row.get("CurrentCall", 0) or 0) for row in stats), default=0)
    # The rate SIPp reached: calls created over the time until the last one was created.
    creation_done = next((row for row in stats if int(row.get("TotalCallCreated", 0) or 0) >= created), last)
    elapsed = parse_elapsed(creation_done.get("ElapsedTime(C)", "0:0:0"))
    ratings = None
    if api:
        time.sleep(1)
        ratings = len(api.ratings()) - ratings_before
    calls_per_node = [node.trunk_calls() - before for node, before in zip(deployment.nodes, calls_before)]
    result = {
        "target": deployment.label, "rate": rate, "attempted": created, "succeeded": succeeded, "failed": failed,
        "planned": calls, "reached_rate": round(created / elapsed, 1) if elapsed else None,
        "ratings": ratings, "peak_concurrent": peak_concurrent, "wall_seconds": round(wall, 1),
        "sipp_exit": sipp.returncode, "failure_counters": failure_counters(last), "calls_per_node": calls_per_node,
        # INVITE to 200 OK; SIPp's retransmissions (an answer later than 500 ms, or lost); the
        # answering side's retransmissions that arrived after SIPp had ended the call (its BYE
        # sent again because SIPp's 200 came back later than 500 ms, or was lost).
        "invite_to_200_ms": round(parse_elapsed(last.get("ResponseTime1(C)", "0:0:0")) * 1000, 1),
        "sipp_retransmissions": int(last.get("Retransmissions(C)", 0) or 0),
        "late_retransmissions": int(last.get("DeadCallMsgs(C)", 0) or 0),
        # Answered later than 500 ms (the scenario's ResponseTimeRepartition): a server that sends
        # 100 Trying at once is never retransmitted to, however long its 200 takes.
        "answered_after_500_ms": sum(int(last.get(f"ResponseTimeRepartition1_{bucket}", 0) or 0)
                                     for bucket in ("<1000", "<5000", ">=5000")),
    }
    used, mean, peak = cpu_percent(samples, "answering")
    rss_peak = max((s["answering_rss"] for s in samples if "answering_rss" in s), default=0)
    result.update({
        "cpu_seconds": round(used, 1), "cpu_percent_mean": round(mean), "cpu_percent_peak": round(peak),
        "rss_before_mb": round(rss_before / 1024, 1), "rss_peak_mb": round(rss_peak / 1024, 1),
        "cpu_ms_per_call": round(used * 1000 / succeeded, 2) if succeeded else None,
        "kb_per_concurrent_call": round((rss_peak - idle_rss) / peak_concurrent, 1) if peak_concurrent else None,
    })
    total = used
    for group in ("postgres", "kamailio"):
        if group in deployment.processes:
            used, mean, _ = cpu_percent(samples, group)
            total += used
            result[f"{group}_cpu_percent_mean"] = round(mean)
            result[f"{group}_cpu_ms_per_call"] = round(used * 1000 / succeeded, 2) if succeeded else None
    result["total_cpu_ms_per_call"] = round(total * 1000 / succeeded, 2) if succeeded else None
    used, mean, peak = cpu_percent(samples, "sipp")
    result.update({"sipp_cpu_percent_mean": round(mean), "sipp_cpu_percent_peak": round(peak)})
    return result


def parse_elapsed(text: str) -> float:
    """SIPp's `HH:MM:SS` or `HH:MM:SS:micros` elapsed time, in seconds."""
    parts = [int(part) for part in text.split(":") if part.isdigit()]
    if len(parts) >= 3:
        return parts[0] * 3600 + parts[1] * 60 + parts[2] + (parts[3] / 1e6 if len(parts) > 3 else 0)
    return 0.0


def failure_counters(row: dict) -> dict[str, int]:
    """The non-zero cumulative `Failed…(C)` counters: why calls failed."""
    return {name[len("Failed"):-3]: int(value) for name, value in row.items()
            if name.startswith("Failed") and name.endswith("(C)") and name != "FailedCall(C)"
            and value.isdigit() and int(value) > 0}


def shown(value) -> str:
    """A figure for a table cell: – when there is none (no such process in this topology)."""
    return "–" if value is None else str(value)


def print_table(title: str, results: list[dict], with_ratings: bool) -> None:
    print(f"\n{title}")
    header = ("| calls/s | reached | attempted | succeeded | failed |" + (" ratings |" if with_ratings else "")
              + " peak concurrent | INVITE→200 ms mean | answered after 500 ms | retransmissions SIPp / late |"
              " CPU % mean (peak) | RSS peak MB |"
              " CPU-ms/call | KiB/concurrent call |"
              + (" PostgreSQL CPU % / ms per call | Kamailio CPU % / ms per call | total CPU-ms/call |" if with_ratings else "")
              + " SIPp CPU % |")
    print(header)
    print("|" + "---|" * (header.count("|") - 1))
    for r in results:
        print(f"| {r['rate']} | {r['reached_rate']} | {r['attempted']} | {r['succeeded']} | {r['failed']} |"
              + (f" {r['ratings']} |" if with_ratings else "")
              + f" {r['peak_concurrent']} | {r['invite_to_200_ms']} | {r['answered_after_500_ms']} |"
              f" {r['sipp_retransmissions']} / {r['late_retransmissions']} |"
              f" {r.get('cpu_percent_mean')} ({r.get('cpu_percent_peak')}) |"
              f" {r.get('rss_peak_mb')} | {r.get('cpu_ms_per_call')} | {r.get('kb_per_concurrent_call')} |"
              + (f" {shown(r.get('postgres_cpu_percent_mean'))} / {shown(r.get('postgres_cpu_ms_per_call'))} |"
                 f" {shown(r.get('kamailio_cpu_percent_mean'))} / {shown(r.get('kamailio_cpu_ms_per_call'))} |"
                 f" {r.get('total_cpu_ms_per_call')} |" if with_ratings else "")
              + f" {r['sipp_cpu_percent_mean']} |")
    for r in results:
        if len(r["calls_per_node"]) > 1:
            print(f"  {r['rate']} calls/s: calls taken per node {r['calls_per_node']}")
        if r["failure_counters"]:
            print(f"  {r['rate']} calls/s failures: {r['failure_counters']}")


def clean(result: dict, with_ratings: bool) -> bool:
    """No failed call, every planned call placed and succeeded, and (for the server) every rating stored."""
    ok = result["failed"] == 0 and result["succeeded"] == result["planned"] and result["attempted"] == result["planned"]
    return ok and (not with_ratings or result["ratings"] == result["succeeded"])


def keeping_up(result: dict) -> bool:
    """Every answer within 500 ms: no retransmission on either side, no INVITE answered later."""
    return (result["sipp_retransmissions"] == 0 and result["late_retransmissions"] == 0
            and result["answered_after_500_ms"] == 0)


def idle_cpu_percent(deployment: Deployment, seconds: int) -> dict[str, float]:
    """Each process group's CPU (% of one core) with no call up, over `seconds`: what the figures
    per call include at low rates (timers, heartbeats, probes, the database's own work)."""
    sampler = Sampler(deployment.processes)
    time.sleep(seconds)
    samples = sampler.stop()
    return {group: round(cpu_percent(samples, group)[1], 1) for group in deployment.processes}


def run_steps(folder: pathlib.Path, deployment: Deployment, rates: list[int], arguments) -> list[dict]:
    idle_rss = sum(qualityrate_sip.process_status(pid)["VmRSS"] for pid in deployment.processes["answering"])
    results = []
    for rate in rates:
        print(f"{deployment.label}: {rate} calls/s for {arguments.step_seconds} s ...", flush=True)
        result = run_step(folder, deployment, rate, arguments, idle_rss)
        results.append(result)
        print(json.dumps(result), flush=True)
        if result["attempted"] and result["failed"] > result["attempted"] * 0.2:
            print(f"{deployment.label}: more than 20% of the calls failed at {rate} calls/s; no higher rate tried", flush=True)
            break
        time.sleep(arguments.settle_seconds)
    return results


# The topologies.

def new_database(admin_url: str, name: str) -> str:
    """A new, empty database `name` on the PostgreSQL server of `admin_url` (dropped first if a
    run before left it); its URL."""
    subprocess.run(["psql", admin_url, "-q", "-c", f"DROP DATABASE IF EXISTS {name}", "-c", f"CREATE DATABASE {name}"],
                   check=True)
    return urllib.parse.urlsplit(admin_url)._replace(path=f"/{name}").geturl()


def start_configured_node(server: Server, deployment: Deployment) -> None:
    """Starts `server` as the node that sets the client up, and gives it the rated voice menu."""
    deployment.nodes.append(server)
    deployment.stops.append(server.stop)
    server.start(client="SIP Bench", domain="bench.test")
    deployment.api = API(server)
    deployment.ivr_id = deployment.api.configure_rated_ivr(IVR_NAME, DID)


def one_node(topology: str, arguments, folder: pathlib.Path) -> Deployment:
    """`sqlite` or `postgres`: one node on 127.0.0.1, called directly."""
    database = new_database(arguments.postgres, "sip_bench_postgres") if topology == "postgres" else None
    server = Server(arguments.binary, folder, rtp_ports=arguments.rtp_ports, database=database)
    deployment = Deployment(topology, TOPOLOGIES[topology], server.sip_address)
    try:
        start_configured_node(server, deployment)
    except BaseException:
        deployment.stop()
        raise
    deployment.processes["answering"] = [server.pid]
    if topology == "postgres":
        deployment.processes["postgres"] = [arguments.postgres_pid]
    return deployment


class ClusterProxy:
    """Kamailio running deploy/kamailio/cluster.cfg on `host` in front of `nodes` (SIP addresses),
    started as its README says an operator starts it: the dispatcher list file written here, the
    settings on the command line, in the foreground, with its runtime files and log in `workdir`.
    Shared memory 256 MB (`-m`) rather than Debian's 64: room for the transactions of thousands of
    calls placed a few hundred a second."""

    def __init__(self, workdir: pathlib.Path, host: str, nodes: list[str]):
        self.workdir = workdir
        self.host = host
        self.nodes = nodes
        self.port = qualityrate_sip.free_port(both=True, host=host)
        self.runtime = workdir / "kamailio-run"
        self.control = f"unix:{self.runtime / 'kamailio_ctl'}"
        self.log_path = workdir / "kamailio.log"
        self.process: subprocess.Popen | None = None

    @property
    def sip_address(self) -> str:
        return f"{self.host}:{self.port}"

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def start(self) -> None:
        binary = shutil.which("kamailio") or "/usr/sbin/kamailio"
        self.runtime.mkdir(parents=True)
        nodes_list = self.workdir / "qualityrate-nodes.list"
        nodes_list.write_text("".join(f"1 sip:{node}\n" for node in self.nodes))
        command = [binary, "-f", str(CLUSTER_CONFIG), "-DD", "-E", "-m", "256",
                   "-Y", str(self.runtime), "-P", str(self.runtime / "kamailio.pid"), "-w", str(self.runtime),
                   "-A", f"LISTEN={self.sip_address}", "-A", f'NODES_LIST="{nodes_list}"', "-A", f'CTL="{self.control}"']
        with self.log_path.open("wb") as log:
            self.process = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                                            start_new_session=True)
        # In service once each node has answered a probe (one a second).
        deadline = time.monotonic() + 30
        while (states := self.node_states()) != {node: "AP" for node in self.nodes}:
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"Kamailio's nodes are not all in service (AP) after 30 s: {states}; see {self.log_path}")
            time.sleep(0.5)

    def node_states(self) -> dict[str, str]:
        """Each node's dispatcher flags (`kamcmd dispatcher.list`): `AP` in service, `IP` out of it."""
        listed = subprocess.run(["kamcmd", "-s", self.control, "dispatcher.list"], capture_output=True, text=True)
        return dispatcher_states(listed.stdout)

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def cluster(arguments, folder: pathlib.Path) -> Deployment:
    """Three nodes on one database behind Kamailio. The first sets the client up and gets the
    voice menu before the others start, so none of them routes the DID from an older cache; every
    node takes trunk calls from Kamailio's address only."""
    database = new_database(arguments.postgres, "sip_bench_cluster")
    nodes = [Server(arguments.binary, folder, rtp_ports=arguments.rtp_ports, database=database, host=host,
                    trunk=f"{KAMAILIO_HOST}/32", name=f"node-{host}") for host in NODE_HOSTS]
    proxy = ClusterProxy(folder, KAMAILIO_HOST, [node.sip_address for node in nodes])
    deployment = Deployment("cluster", TOPOLOGIES["cluster"], proxy.sip_address)
    try:
        start_configured_node(nodes[0], deployment)
        for node in nodes[1:]:
            deployment.nodes.append(node)
            deployment.stops.append(node.stop)
            node.start(credentials=nodes[0].credentials)
        deployment.stops.append(proxy.stop)
        proxy.start()
    except BaseException:
        deployment.stop()
        raise
    deployment.processes.update(
        answering=[node.pid for node in nodes], postgres=[arguments.postgres_pid], kamailio=[proxy.pid])
    return deployment


def sipp_uas(arguments, folder: pathlib.Path) -> Deployment:
    """SIPp's own UAS: answers, waits as long as the server's prompt, key and finish, hangs up."""
    port = qualityrate_sip.free_port(both=True)
    log = open(folder / "sipp-uas.out", "wb")
    uas = subprocess.Popen(
        ["sipp", "-sf", str(folder / qualityrate_sip.SIPP_UAS_SCENARIO.name), "-i", "127.0.0.1", "-p", str(port),
         "-mp", str(qualityrate_sip.free_port(socket.SOCK_DGRAM)), "-t", "u1", "-d", str(arguments.prompt_ms + FINISH_AND_KEY_MS),
         "-nostdin", "-max_recv_loops", "10000", "-max_sched_loops", "10000", "-trace_err",
         "-error_file", str(folder / "sipp-uas-errors.log")],
        cwd=folder, stdout=log, stderr=subprocess.STDOUT)

    def stop() -> None:
        uas.terminate()
        uas.wait()
        log.close()

    time.sleep(1)
    return Deployment("sipp-uas", "SIPp against SIPp's UAS (the ceiling)", f"127.0.0.1:{port}",
                      {"answering": [uas.pid]}, [stop])


def deploy(topology: str, arguments, folder: pathlib.Path) -> Deployment:
    """Starts `topology` with its logs and databases in `folder`."""
    folder.mkdir(parents=True, exist_ok=True)
    if topology == "cluster":
        return cluster(arguments, folder)
    return one_node(topology, arguments, folder)


# The summary.

def print_topology(topology: str, results: list[dict], idle: dict[str, float], arguments) -> None:
    print_table(f"{TOPOLOGIES[topology]} ({arguments.binary}, --log-level warning, RTP ports {arguments.rtp_ports}):",
                results, with_ratings=True)
    print("CPU % with no call up: " + ", ".join(f"{GROUP_NAMES[group]} {percent}" for group, percent in idle.items()))
    good = [r for r in results if clean(r, with_ratings=True)]
    if good:
        best = max(good, key=lambda r: r["rate"])
        print(f"highest rate with no failed call and every rating stored: {best['rate']} calls/s "
              f"(peak {best['peak_concurrent']} concurrent calls)")
    else:
        print("no rate without a failed call or a missing rating")
    prompt = [r for r in good if keeping_up(r)]
    if prompt:
        print(f"of those, the highest with every answer within 500 ms (no INVITE answered later, no retransmission): "
              f"{max(r['rate'] for r in prompt)} calls/s")


def print_summary(topologies: dict[str, list[dict]]) -> None:
    """The topologies side by side: their highest clean rates, and what a call costs each at the
    highest rate every one of them kept up with (CPU per call hardly moves with the rate below
    saturation, so the same rate compares like with like)."""
    print("\nrated calls per second and cost per call, by topology:")
    common = set.intersection(*({r["rate"] for r in results if clean(r, with_ratings=True) and keeping_up(r)}
                                for results in topologies.values()))
    reference = max(common, default=None)
    header = ("| topology | highest clean rate | highest with every answer within 500 ms |"
              + (f" at {reference} calls/s: attempted / succeeded / failed | ratings | INVITE→200 ms |"
                 " CPU-ms per call: nodes | PostgreSQL | Kamailio | total |" if reference else ""))
    print(header)
    print("|" + "---|" * (header.count("|") - 1))
    for topology, results in topologies.items():
        good = [r for r in results if clean(r, with_ratings=True)]
        row = (f"| {TOPOLOGIES[topology]} | {max((r['rate'] for r in good), default='none')} |"
               f" {max((r['rate'] for r in good if keeping_up(r)), default='none')} |")
        at = next((r for r in results if r["rate"] == reference), None)
        if at:
            row += (f" {at['attempted']} / {at['succeeded']} / {at['failed']} | {at['ratings']} | {at['invite_to_200_ms']} |"
                    f" {at['cpu_ms_per_call']} | {shown(at.get('postgres_cpu_ms_per_call'))} |"
                    f" {shown(at.get('kamailio_cpu_ms_per_call'))} | {at['total_cpu_ms_per_call']} |")
        print(row)
    if reference is None:
        print("no rate was kept up with by every topology")


def main() -> int:
    parser = argparse.ArgumentParser(description="SIP load benchmark: rated IVR calls with SIPp at rising rates.")
    parser.add_argument("--binary", required=True, type=pathlib.Path)
    parser.add_argument("--workdir", required=True, type=pathlib.Path)
    parser.add_argument("--topologies", default="sqlite", type=lambda text: text.split(","),
                        help=f"comma-separated, in order: {', '.join(TOPOLOGIES)}")
    parser.add_argument("--postgres", help="URL of a PostgreSQL server's `postgres` database, for the postgres and "
                                           "cluster topologies (a database of their own is made on it)")
    parser.add_argument("--postgres-pid", type=int, help="that server's postmaster, whose CPU (with its backends') is counted")
    parser.add_argument("--rates", default="50,100,200,300,400",
                        type=lambda text: [int(rate) for rate in text.split(",")])
    parser.add_argument("--ceiling-rates", type=lambda text: [int(rate) for rate in text.split(",")],
                        help="rates for SIPp against SIPp (default: --rates)")
    parser.add_argument("--step-seconds", type=int, default=20)
    parser.add_argument("--prompt-ms", type=int, default=10000)
    parser.add_argument("--settle-seconds", type=int, default=5)
    parser.add_argument("--limit", type=int, default=15000, help="SIPp -l: concurrent calls at most")
    parser.add_argument("--rtp-ports", default="10000-21999")
    parser.add_argument("--skip-server", action="store_true", help="only the SIPp-against-SIPp ceiling")
    parser.add_argument("--skip-ceiling", action="store_true", help="only the servers")
    arguments = parser.parse_args()
    unknown = [topology for topology in arguments.topologies if topology not in TOPOLOGIES]
    if unknown:
        parser.error(f"unknown topologies {unknown}: choose among {', '.join(TOPOLOGIES)}")
    if set(arguments.topologies) & {"postgres", "cluster"} and not (arguments.postgres and arguments.postgres_pid):
        parser.error("the postgres and cluster topologies need --postgres and --postgres-pid")

    folder = arguments.workdir.resolve()  # SIPp runs in it, and is given paths in it
    qualityrate_sip.prepare_sipp_folder(folder)
    output: dict = {"rates": arguments.rates, "step_seconds": arguments.step_seconds,
                    "prompt_ms": arguments.prompt_ms, "topologies": {}, "idle_cpu_percent": {}, "ratings_wrong": 0}

    for topology in [] if arguments.skip_server else arguments.topologies:
        deployment = deploy(topology, arguments, folder / topology)
        try:
            output["idle_cpu_percent"][topology] = idle_cpu_percent(deployment, arguments.settle_seconds * 2)
            output["topologies"][topology] = run_steps(folder, deployment, arguments.rates, arguments)
            ratings = deployment.api.ratings()
            expected = (4, deployment.ivr_id, 5)
            wrong = [r for r in ratings if (r["rate"], r["extension_id"], r["max_rate"]) != expected]
            output["ratings_wrong"] += len(wrong)
            if wrong:
                print(f"{topology}: ratings with other values than rate 4, extension {deployment.ivr_id}, "
                      f"max_rate 5: {wrong[:3]}")
        finally:
            deployment.stop()

    if not arguments.skip_ceiling:
        deployment = sipp_uas(arguments, folder)
        try:
            output["ceiling"] = run_steps(folder, deployment, arguments.ceiling_rates or arguments.rates, arguments)
        finally:
            deployment.stop()

    (folder / "results.json").write_text(json.dumps(output, indent=2))
    print(f"\n{arguments.prompt_ms} ms in the prompt, {arguments.step_seconds} s per step; details in {folder}")
    for topology, results in output["topologies"].items():
        print_topology(topology, results, output["idle_cpu_percent"][topology], arguments)
    if len(output["topologies"]) > 1:
        print_summary(output["topologies"])
    if "ceiling" in output:
        print_table("SIPp against SIPp's UAS (the ceiling):", output["ceiling"], with_ratings=False)
        good = [r for r in output["ceiling"] if clean(r, with_ratings=False)]
        print(f"ceiling: highest rate with no failed call: {max((r['rate'] for r in good), default='none')} calls/s")
    # A failed call at a high rate is a result; a rating with the wrong values is a bug.
    return 1 if output["ratings_wrong"] else 0


if __name__ == "__main__":
    sys.exit(main())
