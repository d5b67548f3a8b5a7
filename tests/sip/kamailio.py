"""Kamailio (Debian `kamailio`, 5.6) in front of `qualityrate serve`, running the configurations
operators start from with only their settings given on the command line: deploy/kamailio/
kamailio.cfg in front of one node (the address it listens on and the node it relays to), and
deploy/kamailio/cluster.cfg in front of several (the address, and the dispatcher list file naming
the nodes, written here as an operator writes it). It runs in the foreground, as root is fine,
with its runtime files, control socket and log in the test's directory."""

from __future__ import annotations

import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from harness import ROOT, LoggingProcess, QualityRateServer, free_port, require_tool

sys.path.insert(0, str(ROOT / "Benchmarks" / "sip"))
from qualityrate_sip import dispatcher_states  # noqa: E402  (shared with the benchmark)

CONFIG = ROOT / "deploy" / "kamailio" / "kamailio.cfg"
CLUSTER_CONFIG = ROOT / "deploy" / "kamailio" / "cluster.cfg"


class Kamailio(LoggingProcess):
    """Kamailio on `host` (a free port, UDP and TCP) relaying to `upstream`'s SIP address."""

    config = CONFIG

    def __init__(self, workdir: Path, upstream: QualityRateServer, host: str) -> None:
        self.workdir = workdir
        self.upstream = upstream
        self.host = host
        self.port = free_port(host=host)
        self.log_path = workdir / "kamailio.log"
        self.runtime = workdir / "run"
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def sip_address(self) -> str:
        return f"{self.host}:{self.port}"

    def settings(self) -> list[str]:
        """The configuration's settings, as `-A NAME=VALUE` options."""
        upstream_host, upstream_port = self.upstream.sip_address.rsplit(":", 1)
        return ["-A", f"LISTEN={self.sip_address}", "-A", f'QR_HOST="{upstream_host}"', "-A", f"QR_PORT={upstream_port}"]

    def start(self) -> None:
        binary = require_tool("kamailio", "kamailio")
        self.runtime.mkdir(parents=True)
        command = [
            binary, "-f", str(self.config), "-DD", "-E", "-m", "32", "-M", "4",
            "-Y", str(self.runtime), "-P", str(self.runtime / "kamailio.pid"), "-w", str(self.runtime),
            *self.settings(),
        ]
        with self.log_path.open("wb") as log:
            log.write((" ".join(command) + "\n").encode())
            log.flush()
            self.process = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                                            start_new_session=True)
        deadline = time.monotonic() + 20
        while not self._answers_keepalive():
            if self.process.poll() is not None:
                pytest.fail(f"kamailio exited with {self.process.returncode}:\n{self.log_tail()}", pytrace=False)
            if time.monotonic() > deadline:
                pytest.fail(f"kamailio did not answer OPTIONS within 20 s:\n{self.log_tail()}", pytrace=False)

    def _answers_keepalive(self) -> bool:
        """Whether Kamailio answers an OPTIONS to itself 200 (the configuration's keepalive)."""
        branch = "z9hG4bK" + secrets.token_hex(8)
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
            probe.bind((self.host, 0))
            probe.settimeout(0.3)
            local_port = probe.getsockname()[1]
            probe.sendto((
                f"OPTIONS sip:{self.sip_address} SIP/2.0\r\n"
                f"Via: SIP/2.0/UDP {self.host}:{local_port};branch={branch};rport\r\n"
                f"From: <sip:probe@{self.host}>;tag={secrets.token_hex(4)}\r\n"
                f"To: <sip:{self.sip_address}>\r\n"
                f"Call-ID: {secrets.token_hex(8)}@probe\r\n"
                "CSeq: 1 OPTIONS\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n"
            ).encode(), (self.host, self.port))
            try:
                answer = probe.recv(65536)
            except socket.timeout:
                return False
        return answer.startswith(b"SIP/2.0 200 ")

    def stop(self) -> None:
        """SIGTERM: the main process stops its children and exits. If it lingers, its process
        group (it was started in a session of its own) is killed."""
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=10)


class ClusterKamailio(Kamailio):
    """Kamailio on `host` running cluster.cfg in front of `nodes`, which it finds in the dispatcher
    list file this writes (one line per node: set 1 and its SIP address)."""

    config = CLUSTER_CONFIG

    def __init__(self, workdir: Path, nodes: list[QualityRateServer], host: str) -> None:
        super().__init__(workdir, nodes[0], host)
        self.nodes = nodes
        self.nodes_list = workdir / "qualityrate-nodes.list"
        self.control = f"unix:{self.runtime / 'kamailio_ctl'}"

    def settings(self) -> list[str]:
        self.nodes_list.write_text("".join(f"1 sip:{node.sip_address}\n" for node in self.nodes))
        return ["-A", f"LISTEN={self.sip_address}", "-A", f'NODES_LIST="{self.nodes_list}"', "-A", f'CTL="{self.control}"']

    def node_states(self) -> dict[str, str]:
        """What the dispatcher says of each node (`kamcmd dispatcher.list`): its SIP address and
        flags, `AP` in service (active, probed), `IP` out of service (inactive, probed)."""
        listed = subprocess.run([require_tool("kamcmd", "kamailio"), "-s", self.control, "dispatcher.list"],
                                capture_output=True, text=True, timeout=10)
        if listed.returncode != 0:
            raise AssertionError(f"kamcmd dispatcher.list failed: {listed.stderr}{listed.stdout}")
        return dispatcher_states(listed.stdout)

