"""Issue 10 over the wire: a trunk caller rates in a voice menu, and the rating reaches the
client's `rating_notification_url` — a Python receiver on loopback — as JSON signed with the
secret the PUT showed once, with the call's caller and DID; the API lists it as delivered. A
receiver that fails the first three requests gets the rating once, signed, after the retries —
even when the server is killed -9 between two of them and started again."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from pathlib import Path

from harness import API, Numbers, QualityRateServer, Sipp, eventually
from media import RTPListener

CALLER = "4940123456"


def verify(secret: str, header: str, body: bytes, tolerance: int = 300) -> bool:
    """The check docs/API.md gives receivers."""
    parts = dict(p.split("=", 1) for p in header.split(","))
    expected = hmac.new(secret.encode(), parts["t"].encode() + b"." + body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, parts["v1"]) and abs(time.time() - int(parts["t"])) <= tolerance


class Receiver:
    """Answers 500 to the first `failures` requests, then 204; keeps every request and its answer."""

    def __init__(self, failures: int = 0) -> None:
        self.requests: list[tuple[dict[str, str], bytes]] = []
        self.statuses: list[int] = []
        self.arrived = threading.Event()
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                body = self.rfile.read(int(self.headers["Content-Length"]))
                status = 500 if len(owner.requests) < failures else 204
                owner.requests.append(({k.lower(): v for k, v in self.headers.items()}, body))
                owner.statuses.append(status)
                owner.arrived.set()
                self.send_response(status)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.http = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.http.server_address[1]}/hook"
        threading.Thread(target=self.http.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.http.shutdown()
        self.http.server_close()


def rate_in_a_new_menu(api: API, sipp: Sipp, listener: RTPListener, name: str, did: str) -> dict[str, Any]:
    """A trunk call to a new rating menu's `did` that presses 2 (SIP INFO); its rating."""
    ivr = api.create_rating_ivr(name, max_rate=5)
    api.create_did(did, ivr)
    since = datetime.now(timezone.utc)
    caller = sipp.start("trunk_call_info.xml", "caller", keys={
        "did": did, "caller": CALLER, "codecs": "0 8", "dtmf_pt": "101", "rtp_port": str(listener.port),
        "key_delay_ms": "500", "info_type": "application/dtmf-relay", "info_body": "Signal=2\r\nDuration=160\r\n"})
    caller.expect_success()
    return api.the_rating(since, ivr)


def test_a_rating_is_delivered_once_after_three_failures_and_a_kill_9_between_retries(tmp_path: Path) -> None:
    server = QualityRateServer(tmp_path / "notifying")
    server.workdir.mkdir()
    receiver = Receiver(failures=3)
    listener = RTPListener()
    sipp = Sipp(server.sip_address, tmp_path / "sipp")
    try:
        server.start()
        api = API(server)
        secret = api.request("PUT", f"client/{api.client_id}/", {"rating_notification_url": receiver.url})[
            "rating_notification_secret"]
        rating = rate_in_a_new_menu(api, sipp, listener, "7401", "4930777401")
        # Two failed attempts (retried after 1 s, then 2 s): the server dies before the third.
        eventually("two failed deliveries", lambda: len(receiver.requests) >= 2 or None, seconds=30)
        assert server.process is not None
        server.process.kill()
        server.process.wait(timeout=30)
        server.serve()
        api = API(server)
        eventually("a delivery answered 204", lambda: 204 in receiver.statuses or None, seconds=60)

        def delivered() -> list[dict[str, Any]] | None:
            listed = api.request("GET", f"client/{api.client_id}/quality_rate/notifications/?limit=1")
            return listed if listed[0]["state"] == "delivered" else None
        listed = eventually("the notification listed as delivered", delivered, seconds=30)
        assert listed[0]["rating_id"] == rating["id"] and listed[0]["last_status"] == 204, listed
        # Every request was this rating's, signed, with its id as idempotency key; one succeeded.
        assert receiver.statuses.count(204) == 1, receiver.statuses
        assert receiver.statuses[:3] == [500, 500, 500], receiver.statuses
        for headers, body in receiver.requests:
            assert verify(secret, headers["qualityrate-signature"], body), headers
            assert headers["idempotency-key"] == str(rating["id"]), headers
            assert json.loads(body)["id"] == rating["id"]
    finally:
        receiver.close()
        listener.close()
        sipp.stop_all()
        server.stop()


def test_a_sip_rating_reaches_the_notification_url_signed(api: API, numbers: Numbers, sipp: Sipp) -> None:
    ivr = api.create_rating_ivr(numbers.extension(), max_rate=5)
    did = numbers.did()
    api.create_did(did, ivr)
    receiver = Receiver()
    listener = RTPListener()
    try:
        answer = api.request("PUT", f"client/{api.client_id}/",
                             {"rating_notification_url": receiver.url, "rating_alert_threshold": 40})
        secret = answer["rating_notification_secret"]
        since = datetime.now(timezone.utc)
        caller = sipp.start("trunk_call_info.xml", "caller", keys={
            "did": did, "caller": CALLER, "codecs": "0 8", "dtmf_pt": "101", "rtp_port": str(listener.port),
            "key_delay_ms": "500", "info_type": "application/dtmf-relay", "info_body": "Signal=2\r\nDuration=160\r\n"})
        caller.expect_success()
        rating = api.the_rating(since, ivr)
        assert receiver.arrived.wait(15), "no notification within 15 s of the rating"
        headers, body = receiver.requests[0]
        assert verify(secret, headers["qualityrate-signature"], body), headers
        assert headers["idempotency-key"] == str(rating["id"])
        payload = json.loads(body)
        assert {k: payload[k] for k in rating} == rating, (payload, rating)
        assert payload["from_username"] == CALLER and payload["did_number"] == did, payload
        assert payload["target"] == "call" and payload["agent_username"] is None and payload["alert"] is True, payload
        deadline = time.monotonic() + 15
        while True:
            listed = api.request("GET", f"client/{api.client_id}/quality_rate/notifications/?limit=1")
            if listed[0]["state"] == "delivered" or time.monotonic() > deadline:
                break
            time.sleep(0.1)
        assert listed[0]["rating_id"] == rating["id"] and listed[0]["state"] == "delivered", listed
        assert listed[0]["last_status"] == 204 and listed[0]["attempts"] == 1, listed
    finally:
        api.request("PUT", f"client/{api.client_id}/", {"rating_notification_url": None, "rating_alert_threshold": None})
        receiver.close()
        listener.close()
