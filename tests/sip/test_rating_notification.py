"""Issue 10 over the wire: a trunk caller rates in a voice menu, and the rating reaches the
client's `rating_notification_url` — a Python receiver on loopback — as JSON signed with the
secret the PUT showed once, with the call's caller and DID; the API lists it as delivered."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from harness import API, Numbers, Sipp
from media import RTPListener

CALLER = "4940123456"


def verify(secret: str, header: str, body: bytes, tolerance: int = 300) -> bool:
    """The check docs/API.md gives receivers."""
    parts = dict(p.split("=", 1) for p in header.split(","))
    expected = hmac.new(secret.encode(), parts["t"].encode() + b"." + body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, parts["v1"]) and abs(time.time() - int(parts["t"])) <= tolerance


class Receiver:
    def __init__(self) -> None:
        self.requests: list[tuple[dict[str, str], bytes]] = []
        self.arrived = threading.Event()
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                body = self.rfile.read(int(self.headers["Content-Length"]))
                owner.requests.append(({k.lower(): v for k, v in self.headers.items()}, body))
                owner.arrived.set()
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.http = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.http.server_address[1]}/hook"
        threading.Thread(target=self.http.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.http.shutdown()
        self.http.server_close()


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
