#!/usr/bin/env python3
"""SIP load benchmark behind scripts/bench-sip (see docs/BENCHMARKS.md).

Full rated IVR calls placed by SIPp (`rated_call.xml`) at rising call rates against a release
`qualityrate serve`: INVITE to a DID routed to a voice menu with a `quality_rate` rule, 200/ACK,
the rating prompt for `--prompt-ms`, key 4 as RFC 4733, the finish prompt, BYE from the server,
200. Then the same calls against SIPp's own UAS (`sipp_uas.xml`, which answers and hangs up
after as long as the server's prompt, key and finish take) at the same rates: the ceiling of
this machine for SIPp's side of the calls.

Per step: calls attempted, succeeded and failed (SIPp's `-trace_stat` CSV), ratings stored during
the step (REST API), the peak of concurrent calls (SIPp's CurrentCall), the rate SIPp reached,
the mean INVITE→200 time, retransmissions on both sides (signs of a lagging peer), the answering
side's CPU (% of one core) and resident memory sampled every second from /proc, CPU-ms per call
and KiB per concurrent call (peak RSS above the idle RSS before the first step, over the peak of
concurrent calls). Prints a table and the highest rate with no failed call and every rating
stored; writes everything to WORKDIR/results.json.
"""

from __future__ import annotations

import argparse
import json
import pathlib
import signal
import socket
import subprocess
import sys
import threading
import time

import qualityrate_sip
from qualityrate_sip import API, Server

DID = "4930555900"
IVR_NAME = "900"
FINISH_AND_KEY_MS = 3500  # the key (160 ms) and the built-in "thank you" (3.3 s) the server plays


class Sampler:
    """CPU seconds and VmRSS of some processes, once a second, on a thread."""

    def __init__(self, pids: dict[str, int]):
        self.pids = pids
        self.samples: list[dict] = []
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    def sample(self) -> dict:
        row = {"time": time.monotonic()}
        for name, pid in self.pids.items():
            try:
                row[f"{name}_cpu"] = qualityrate_sip.process_cpu_seconds(pid)
                row[f"{name}_rss"] = qualityrate_sip.process_status(pid)["VmRSS"]
            except (OSError, KeyError):
                pass
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


def run_step(folder: pathlib.Path, target: str, rate: int, arguments, answering: int, idle_rss: int,
             api: API | None, label: str) -> dict:
    """One step at `rate`; `answering` is the pid of what answers the calls (server or SIPp UAS)."""
    calls = rate * arguments.step_seconds
    name = f"{label}-{rate}cps"
    command = qualityrate_sip.sipp_rated_calls(
        folder, target, DID, calls=calls, rate=rate, prompt_ms=arguments.prompt_ms, name=name,
        limit=arguments.limit, extra=["-max_recv_loops", "10000", "-max_sched_loops", "10000"])
    ratings_before = len(api.ratings()) if api else 0
    rss_before = qualityrate_sip.process_status(answering)["VmRSS"]
    started = time.monotonic()
    with open(folder / f"{name}.out", "wb") as output:
        sipp = subprocess.Popen(command, cwd=folder, stdout=output, stderr=subprocess.STDOUT)
        sampler = Sampler({"answering": answering, "sipp": sipp.pid})
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
    result = {
        "target": label, "rate": rate, "attempted": created, "succeeded": succeeded, "failed": failed,
        "planned": calls, "reached_rate": round(created / elapsed, 1) if elapsed else None,
        "ratings": ratings, "peak_concurrent": peak_concurrent, "wall_seconds": round(wall, 1),
        "sipp_exit": sipp.returncode, "failure_counters": failure_counters(last),
        # INVITE to 200 OK; SIPp's retransmissions (an answer later than 500 ms, or lost); the
        # answering side's retransmissions that arrived after SIPp had ended the call (its BYE
        # sent again because SIPp's 200 came back later than 500 ms, or was lost).
        "invite_to_200_ms": round(parse_elapsed(last.get("ResponseTime1(C)", "0:0:0")) * 1000, 1),
        "sipp_retransmissions": int(last.get("Retransmissions(C)", 0) or 0),
        "late_retransmissions": int(last.get("DeadCallMsgs(C)", 0) or 0),
    }
    used, mean, peak = cpu_percent(samples, "answering")
    rss_peak = max((s["answering_rss"] for s in samples if "answering_rss" in s), default=0)
    result.update({
        "cpu_seconds": round(used, 1), "cpu_percent_mean": round(mean), "cpu_percent_peak": round(peak),
        "rss_before_mb": round(rss_before / 1024, 1), "rss_peak_mb": round(rss_peak / 1024, 1),
        "cpu_ms_per_call": round(used * 1000 / succeeded, 2) if succeeded else None,
        "kb_per_concurrent_call": round((rss_peak - idle_rss) / peak_concurrent, 1) if peak_concurrent else None,
    })
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


def print_table(title: str, results: list[dict], with_ratings: bool) -> None:
    print(f"\n{title}")
    header = ("| calls/s | reached | attempted | succeeded | failed |" + (" ratings |" if with_ratings else "")
              + " peak concurrent | INVITE→200 ms | retransmissions SIPp / late | CPU % mean (peak) | RSS peak MB |"
              " CPU-ms/call | KiB/concurrent call | SIPp CPU % |")
    print(header)
    print("|" + "---|" * (header.count("|") - 1))
    for r in results:
        print(f"| {r['rate']} | {r['reached_rate']} | {r['attempted']} | {r['succeeded']} | {r['failed']} |"
              + (f" {r['ratings']} |" if with_ratings else "")
              + f" {r['peak_concurrent']} | {r['invite_to_200_ms']} |"
              f" {r['sipp_retransmissions']} / {r['late_retransmissions']} |"
              f" {r.get('cpu_percent_mean')} ({r.get('cpu_percent_peak')}) |"
              f" {r.get('rss_peak_mb')} | {r.get('cpu_ms_per_call')} | {r.get('kb_per_concurrent_call')} |"
              f" {r['sipp_cpu_percent_mean']} |")
    for r in results:
        if r["failure_counters"]:
            print(f"  {r['rate']} calls/s failures: {r['failure_counters']}")


def clean(result: dict, with_ratings: bool) -> bool:
    """No failed call, every planned call placed and succeeded, and (for the server) every rating stored."""
    ok = result["failed"] == 0 and result["succeeded"] == result["planned"] and result["attempted"] == result["planned"]
    return ok and (not with_ratings or result["ratings"] == result["succeeded"])


def run_steps(folder, target, rates, arguments, answering, api, label) -> list[dict]:
    idle_rss = qualityrate_sip.process_status(answering)["VmRSS"]
    results = []
    for rate in rates:
        print(f"{label}: {rate} calls/s for {arguments.step_seconds} s ...", flush=True)
        result = run_step(folder, target, rate, arguments, answering, idle_rss, api, label)
        results.append(result)
        print(json.dumps(result), flush=True)
        if result["attempted"] and result["failed"] > result["attempted"] * 0.2:
            print(f"{label}: more than 20% of the calls failed at {rate} calls/s; no higher rate tried", flush=True)
            break
        time.sleep(arguments.settle_seconds)
    return results


def main() -> int:
    parser = argparse.ArgumentParser(description="SIP load benchmark: rated IVR calls with SIPp at rising rates.")
    parser.add_argument("--binary", required=True, type=pathlib.Path)
    parser.add_argument("--workdir", required=True, type=pathlib.Path)
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
    parser.add_argument("--skip-ceiling", action="store_true", help="only the server")
    arguments = parser.parse_args()

    folder = arguments.workdir.resolve()  # SIPp runs in it, and is given paths in it
    qualityrate_sip.prepare_sipp_folder(folder)
    output: dict = {"rates": arguments.rates, "step_seconds": arguments.step_seconds,
                    "prompt_ms": arguments.prompt_ms}

    if not arguments.skip_server:
        server = Server(arguments.binary, folder, rtp_ports=arguments.rtp_ports)
        try:
            server.start(client="SIP Bench", domain="bench.test")
            api = API(server)
            ivr_id = api.configure_rated_ivr(IVR_NAME, DID)
            output["server"] = run_steps(folder, f"127.0.0.1:{server.sip_port}", arguments.rates, arguments,
                                         server.pid, api, "server")
            ratings = api.ratings()
            wrong = [r for r in ratings if (r["rate"], r["extension_id"], r["max_rate"]) != (4, ivr_id, 5)]
            output["ratings_total"] = len(ratings)
            output["ratings_wrong"] = len(wrong)
            if wrong:
                print(f"ratings with other values than rate 4, extension {ivr_id}, max_rate 5: {wrong[:3]}")
        finally:
            server.stop()

    if not arguments.skip_ceiling:
        port = qualityrate_sip.free_port(both=True)
        uas_log = open(folder / "sipp-uas.out", "wb")
        uas = subprocess.Popen(
            ["sipp", "-sf", str(folder / qualityrate_sip.SIPP_UAS_SCENARIO.name), "-i", "127.0.0.1", "-p", str(port),
             "-mp", str(qualityrate_sip.free_port(socket.SOCK_DGRAM)), "-t", "u1", "-d", str(arguments.prompt_ms + FINISH_AND_KEY_MS),
             "-nostdin", "-max_recv_loops", "10000", "-max_sched_loops", "10000", "-trace_err",
             "-error_file", str(folder / "sipp-uas-errors.log")],
            cwd=folder, stdout=uas_log, stderr=subprocess.STDOUT)
        try:
            time.sleep(1)
            output["ceiling"] = run_steps(folder, f"127.0.0.1:{port}", arguments.ceiling_rates or arguments.rates,
                                          arguments, uas.pid, None, "sipp-uas")
        finally:
            uas.terminate()
            uas.wait()
            uas_log.close()

    (folder / "results.json").write_text(json.dumps(output, indent=2))
    print(f"\n{arguments.prompt_ms} ms in the prompt, {arguments.step_seconds} s per step; details in {folder}")
    if "server" in output:
        print_table(f"qualityrate serve ({arguments.binary}, --log-level warning, RTP ports {arguments.rtp_ports}):",
                    output["server"], with_ratings=True)
        good = [r for r in output["server"] if clean(r, with_ratings=True)]
        if good:
            best = max(good, key=lambda r: r["rate"])
            print(f"highest rate with no failed call and every rating stored: {best['rate']} calls/s "
                  f"(peak {best['peak_concurrent']} concurrent calls)")
        else:
            print("no rate without a failed call or a missing rating")
        prompt = [r for r in good if r["sipp_retransmissions"] == 0 and r["late_retransmissions"] == 0]
        if prompt:
            best = max(prompt, key=lambda r: r["rate"])
            print(f"of those, the highest with no retransmission on either side (every answer within 500 ms): "
                  f"{best['rate']} calls/s")
    if "ceiling" in output:
        print_table("SIPp against SIPp's UAS (the ceiling):", output["ceiling"], with_ratings=False)
        good = [r for r in output["ceiling"] if clean(r, with_ratings=False)]
        print(f"ceiling: highest rate with no failed call: {max((r['rate'] for r in good), default='none')} calls/s")
    # A failed call at a high rate is a result; a rating with the wrong values is a bug.
    return 1 if output.get("ratings_wrong") else 0


if __name__ == "__main__":
    sys.exit(main())
