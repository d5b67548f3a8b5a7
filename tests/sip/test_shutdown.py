"""SIGTERM while calls are up, as an operator restarting the server in office hours does: with no
drain time (`--drain-seconds 0`) every caller is sent BYE, and the process exits 0 at once —
every task of a call belongs to the service group, so none is left running to hold the exit.
The drain itself, and the call history written at the stop, are test_durability.py's."""

from __future__ import annotations

import signal
from pathlib import Path

from harness import API, QualityRateServer, Sipp, eventually
from media import RTPListener

OFFER = {"codecs": "0 8", "dtmf_pt": "101", "caller": "4940777000"}
CALLS = 3


def test_sigterm_hangs_up_every_call_and_the_server_exits(tmp_path: Path) -> None:
    server = QualityRateServer(tmp_path / "stopping", options=("--drain-seconds", "0"))
    server.workdir.mkdir()
    listeners = [RTPListener() for _ in range(CALLS)]
    sipp = Sipp(server.sip_address, tmp_path / "sipp")
    try:
        server.start()
        api = API(server)
        menu = api.create_rating_ivr("7100", max_rate=5)
        api.create_did("4930777100", menu)
        callers = [
            sipp.start("trunk_call_until_bye.xml", f"caller-{index}",
                       keys={**OFFER, "did": "4930777100", "rtp_port": str(listener.port)}, seconds=60)
            for index, listener in enumerate(listeners)
        ]
        # Every call is up once its rating prompt arrives.
        for index, listener in enumerate(listeners):
            eventually(f"the prompt of call {index}", lambda: listener.packets() or None, seconds=20)

        server.process.send_signal(signal.SIGTERM)
        assert server.process.wait(timeout=30) == 0, server.log_tail()
        for caller in callers:
            caller.expect_success()  # it received the server's BYE and answered it
    finally:
        for listener in listeners:
            listener.close()
        sipp.stop_all()
        server.stop()
