"""The INVITE burst of the issue "Security and resilience at the edges", at full speed against a
release server with its default limits: 5,000 INVITEs (never ACKed) sent from a trunk address at
`--rate` a second (2,500: the burst takes two seconds; 0: as fast as one Python socket sends), while OPTIONS and /health are probed from elsewhere.
Prints how many were answered (200 admitted, 503 refused with Retry-After), how many the kernel
or the server's queues dropped, the probes' answers, and the server's memory before and after.
"""

from __future__ import annotations

import argparse
import pathlib
import socket
import threading
import time

from qualityrate_sip import API, Server, flood_invite, options_probe, process_status


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--binary", type=pathlib.Path, required=True)
    parser.add_argument("--workdir", type=pathlib.Path, required=True)
    parser.add_argument("--invites", type=int, default=5000)
    parser.add_argument("--rate", type=float, default=2500, help="INVITEs per second; 0 sends them as fast as the socket takes them")
    arguments = parser.parse_args()
    server = Server(arguments.binary, arguments.workdir, rtp_ports="10000-21999", options=(), trunk="127.0.0.0/8")
    server.start()
    try:
        api = API(server)
        api.configure_rated_ivr("7310", "4930777310")
        rss_before = process_status(server.pid)["VmRSS"]
        flood = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        flood.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8 << 20)
        flood.bind(("127.0.0.71", 0))
        host, port = flood.getsockname()
        answers: dict[str, int] = {}
        retry_after: set[str] = set()
        done = threading.Event()

        def collect() -> None:
            flood.settimeout(0.2)
            while not done.is_set():
                try:
                    data = flood.recv(65536).decode(errors="replace")
                except socket.timeout:
                    continue
                if not data.startswith("SIP/2.0 ") or data.startswith("SIP/2.0 100"):
                    continue
                lines = data.split("\r\n")
                call_id = next(line.split(":", 1)[1].strip() for line in lines if line.lower().startswith("call-id:"))
                answers.setdefault(call_id, int(data.split(" ", 2)[1]))
                retry_after.update(line for line in lines if line.lower().startswith("retry-after:"))

        probes = {"options": [0, 0], "health": [0, 0]}

        def probe() -> None:
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as options:
                options.bind(("127.0.0.72", 0))
                options.settimeout(2)
                while not done.is_set():
                    options.sendto(options_probe(options.getsockname(), server.sip_port), ("127.0.0.1", server.sip_port))
                    probes["options"][1] += 1
                    try:
                        probes["options"][0] += options.recv(65536).startswith(b"SIP/2.0 200")
                    except socket.timeout:
                        pass
                    probes["health"][1] += 1
                    try:
                        probes["health"][0] += server.health() == 200
                    except OSError:
                        pass
                    time.sleep(0.1)

        threads = [threading.Thread(target=collect), threading.Thread(target=probe)]
        for thread in threads:
            thread.start()
        started = time.monotonic()
        for index in range(arguments.invites):
            if arguments.rate > 0:
                while time.monotonic() < started + index / arguments.rate:
                    pass
            flood.sendto(flood_invite((host, port), server.sip_port, "4930777310", index), ("127.0.0.1", server.sip_port))
        sent_in = time.monotonic() - started
        time.sleep(5)
        done.set()
        for thread in threads:
            thread.join()
        rss_after = process_status(server.pid)["VmRSS"]
        drops = sum(int(line.split()[-1]) for line in pathlib.Path("/proc/net/udp").read_text().splitlines()[1:]
                    if int(line.split()[1].split(":")[1], 16) == server.sip_port)
        admitted = sum(1 for status in answers.values() if status == 200)
        refused = sum(1 for status in answers.values() if status == 503)
        print(f"{arguments.invites} INVITEs sent in {sent_in:.2f} s ({arguments.invites / sent_in:.0f}/s) from one trunk address, "
              f"server defaults (200 new calls/s, 100/s per source)")
        print(f"  answered {len(answers)}: {admitted} admitted (200), {refused} refused 503 {sorted(retry_after)}, "
              f"{len(answers) - admitted - refused} other; unanswered {arguments.invites - len(answers)} "
              f"(kernel socket-buffer drops {drops})")
        print(f"  during it: OPTIONS {probes['options'][0]}/{probes['options'][1]} answered 200, "
              f"/health {probes['health'][0]}/{probes['health'][1]}")
        print(f"  server RSS {rss_before // 1024} MiB before, {rss_after // 1024} MiB after")
    finally:
        server.stop()


if __name__ == "__main__":
    main()
