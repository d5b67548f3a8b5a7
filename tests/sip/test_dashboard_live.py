"""Issue 10's live dashboard over the wire: /dashboard is open in headless Chromium, signed in to
the session's `qualityrate serve`, when a trunk caller rates in a voice menu over SIP (SIPp, key 1
as SIP INFO). The rating must appear on the page — in the live list and, being low, in the
latest low ratings — within 2 s of the API having it, without a reload; the queue/menu table then
counts it."""

from __future__ import annotations

import sys
from datetime import datetime, timezone
from pathlib import Path

import pytest

from harness import API, Numbers, QualityRateServer, Sipp, eventually
from media import RTPListener

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "web"))
from browser import chromium  # noqa: E402
from dashboard_page import sign_in, wait  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402

CALLER = "4940123456"


@pytest.fixture
def dashboard():
    driver = chromium(1280, 1400)
    yield driver
    driver.quit()


def test_a_sip_rating_appears_on_the_open_dashboard_within_2_s(
    api: API, numbers: Numbers, sipp: Sipp, server: QualityRateServer, dashboard
) -> None:
    ivr = api.create_rating_ivr(numbers.extension(), max_rate=5)
    did = numbers.did()
    api.create_did(did, ivr)
    assert server.credentials is not None
    sign_in(dashboard, server.base_url, server.credentials.client_id, server.credentials.app_id,
            server.credentials.app_secret)
    url = dashboard.current_url

    since = datetime.now(timezone.utc)
    listener = RTPListener()  # where the caller's audio goes
    try:
        caller = sipp.start("trunk_call_info.xml", "caller", keys={
            "did": did, "caller": CALLER, "codecs": "0 8", "dtmf_pt": "101", "rtp_port": str(listener.port),
            "key_delay_ms": "1000", "info_type": "application/dtmf-relay", "info_body": "Signal=1\r\nDuration=160\r\n"})
        # The moment the API has the rating (polled every 0.2 s): from then on the page has 2 s.
        rating = eventually("the SIP call's rating", lambda: api.ratings(since, ivr) or None, seconds=30)[0]
        assert rating["rate"] == 1
        shown = f'li[data-rating-id="{rating["id"]}"]'
        wait(dashboard, 2).until(
            lambda d: d.find_elements(By.CSS_SELECTOR, f"#live-feed {shown}")
            and d.find_elements(By.CSS_SELECTOR, f"#low-ratings {shown}"),
            "the rating did not appear on the dashboard within 2 s of the API having it")
        caller.expect_success()
    finally:
        listener.close()
    assert dashboard.current_url == url, "the page was reloaded"
    item = dashboard.find_element(By.CSS_SELECTOR, f"#low-ratings {shown}")
    assert "1/5" in item.text and rating["datetime"] in item.text
    # The statistics are read again shortly after: the voice menu's row counts the rating.
    wait(dashboard, 10).until(
        lambda d: [row.find_element(By.CSS_SELECTOR, "td.count").text
                   for row in d.find_elements(By.CSS_SELECTOR, f'#extensions tbody tr[data-key="{ivr}"]')] == ["1"],
        "the queue/menu table did not count the new rating")
