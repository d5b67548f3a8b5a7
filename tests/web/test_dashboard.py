"""Browser tests of the supervisor dashboard (/dashboard, issue 10) in headless Chromium: it signs
in, shows the figures the statistics API gives for its default period (the last 30 days), opens a
call's history from a low rating, and fits a 360 px wide screen. That a new rating appears live
is tested with a real SIP call in tests/sip/test_dashboard_live.py.

Needs a running, seeded server (conftest.py). `QR_DASHBOARD_SCREENSHOT=docs/dashboard.png` also
writes the 1280 px screenshot there (how the README's picture is made).
"""

from __future__ import annotations

import os
import pathlib
import shutil

import pytest

from browser import chromium
from dashboard_page import StatisticsAPI, sign_in, value, wait
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select

ARTIFACTS = pathlib.Path(__file__).resolve().parent / "artifacts"


@pytest.fixture(scope="module")
def statistics(base_url, client_id, app_credentials) -> StatisticsAPI:
    return StatisticsAPI(base_url, client_id, *app_credentials)


@pytest.fixture()
def dashboard(base_url, client_id, app_credentials):
    driver = chromium(1280, 1600)
    try:
        sign_in(driver, base_url, client_id, *app_credentials)
        yield driver
    finally:
        driver.quit()


def close(actual: float | None, expected: float | None) -> bool:
    if actual is None or expected is None:
        return actual is expected
    return abs(actual - expected) < 1e-9


def test_the_figures_are_those_of_the_statistics_api(dashboard, statistics):
    period = statistics.last_days(30)
    total = statistics.statistics(period)["buckets"]
    assert total, "the demo data should give the last 30 days ratings"
    total = total[0]
    assert dashboard.find_element(By.ID, "kpi-count").text == str(total["count"])
    assert close(value(dashboard, "#kpi-average"), total["average"])
    assert close(value(dashboard, "#kpi-csat"), total["csat_percent"])
    assert close(value(dashboard, "#kpi-score"), total["score_percent"])
    # The demo offers the rating prompt to most callers; about four in five rate.
    assert total["offered"] > total["count"] > 0, total
    assert close(value(dashboard, "#kpi-response"), total["response_rate_percent"])
    for key, count in total["count_per_key"].items():
        assert value(dashboard, f'#keys span[data-key="{key}"]') == count

    agents = statistics.statistics(period, group_by="agent")["buckets"]
    rows = dashboard.find_elements(By.CSS_SELECTOR, "#agents tbody tr")
    assert len(rows) == len(agents)
    for bucket in agents:
        row = dashboard.find_element(By.CSS_SELECTOR, f'#agents tbody tr[data-key="{bucket["agent_username"] or ""}"]')
        assert row.find_element(By.CSS_SELECTOR, "td.count").text == str(bucket["count"])
        assert close(value(row, "td.average"), bucket["average"])
        assert close(value(row, "td.response"), bucket["response_rate_percent"])
        assert close(value(row, "td.csat"), bucket["csat_percent"])
        assert close(value(row, "td.response"), bucket["response_rate_percent"])

    extensions = statistics.statistics(period, group_by="extension")["buckets"]
    names = {extension["id"]: extension["name"] for extension in statistics.get(f"client/{statistics.client_id}/extension/")}
    for bucket in extensions:
        row = dashboard.find_element(By.CSS_SELECTOR, f'#extensions tbody tr[data-key="{bucket["extension_id"]}"]')
        assert row.find_element(By.CSS_SELECTOR, "td").text.startswith(names[bucket["extension_id"]])
        assert row.find_element(By.CSS_SELECTOR, "td.count").text == str(bucket["count"])
        assert close(value(row, "td.average"), bucket["average"])

    # One bar per day of the period.
    assert len(dashboard.find_elements(By.CSS_SELECTOR, "#trend svg rect")) == 30


def test_another_period_reloads_the_figures(dashboard, statistics):
    period = Select(dashboard.find_element(By.ID, "period"))
    period.select_by_value("7")
    week = statistics.statistics(statistics.last_days(7))["buckets"]
    expected = str(week[0]["count"]) if week else "0"
    wait(dashboard).until(lambda d: d.find_element(By.ID, "kpi-count").text == expected
                          and len(d.find_elements(By.CSS_SELECTOR, "#trend svg rect")) == 7)
    # One day: the trend is drawn per hour.
    period.select_by_value("today")
    wait(dashboard).until(lambda d: len(d.find_elements(By.CSS_SELECTOR, "#trend svg rect")) == 24)
    today = statistics.statistics(statistics.last_days(1))["buckets"]
    assert dashboard.find_element(By.ID, "kpi-count").text == (str(today[0]["count"]) if today else "0")


def test_a_low_rating_opens_its_call_history(dashboard, statistics):
    # The list fills in after the figures (it reads back day windows until it has enough).
    low = wait(dashboard).until(lambda d: d.find_elements(By.CSS_SELECTOR, "#low-ratings li[data-rating-id]"),
                                "the demo data has low ratings in the last 30 days")
    rating = statistics.get(f"client/{statistics.client_id}/quality_rate/{low[0].get_attribute('data-rating-id')}?with_agent=true")
    assert 100 * rating["rate"] / rating["max_rate"] < 60 or statistics.client["rating_alert_threshold"] is not None
    low[0].find_element(By.CSS_SELECTOR, "a.call").click()
    call = statistics.get(f"client/{statistics.client_id}/call_history/{rating['call_uuid']}")
    wait(dashboard).until(lambda d: call["call_uuid"] in d.find_element(By.ID, "call-title").text
                          and d.find_elements(By.CSS_SELECTOR, "#call-body dl"))
    shown = dashboard.find_element(By.ID, "call-body").text
    assert call["from_username"] in shown and call["start_time"] in shown
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    dashboard.save_screenshot(str(ARTIFACTS / "dashboard-call.png"))


def test_the_whole_dashboard_fits_360_px(base_url, client_id, app_credentials):
    driver = chromium(360, 800)
    try:
        # The exact width of a small phone, whatever the window decorations take.
        driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride",
                               {"width": 360, "height": 800, "deviceScaleFactor": 1, "mobile": True})
        sign_in(driver, base_url, client_id, *app_credentials)
        widths = driver.execute_script(
            "return [document.documentElement.scrollWidth, document.documentElement.clientWidth, window.innerWidth]")
        assert widths[0] <= widths[1] == 360, f"the page scrolls sideways: scrollWidth, clientWidth, innerWidth = {widths}"
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        driver.save_screenshot(str(ARTIFACTS / "dashboard-360.png"))
    finally:
        driver.quit()


def test_screenshot_at_1280_px(dashboard):
    wait(dashboard).until(lambda d: d.find_elements(By.CSS_SELECTOR, "#trend svg polyline"))
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    target = ARTIFACTS / "dashboard.png"
    dashboard.save_screenshot(str(target))
    assert target.stat().st_size > 20_000
    if os.environ.get("QR_DASHBOARD_SCREENSHOT"):
        shutil.copy(target, os.environ["QR_DASHBOARD_SCREENSHOT"])
