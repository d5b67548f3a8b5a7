"""The supervisor dashboard (/dashboard) as the browser tests drive it: sign in, wait until its
figures are loaded and its live stream is open, read a figure, and the API it is compared with."""

from __future__ import annotations

import json
import urllib.parse
import urllib.request
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from browser import TIMEOUT
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait


def wait(driver, seconds: float = TIMEOUT) -> WebDriverWait:
    return WebDriverWait(driver, seconds)


def sign_in(driver, base_url: str, client_id: int | str, app_id: str, app_secret: str) -> None:
    """Opens the dashboard and signs in with the application's credentials (client_credentials);
    returns once its figures are shown and its event stream is open."""
    driver.get(f"{base_url}/dashboard")
    for field, value in (("client-id", str(client_id)), ("app-id", app_id), ("app-secret", app_secret)):
        element = driver.find_element(By.ID, field)
        element.clear()
        element.send_keys(value)
    driver.find_element(By.ID, "sign-in").click()
    wait(driver).until(lambda d: d.find_element(By.ID, "kpi-count").get_attribute("data-value") is not None,
                       f"the dashboard showed no figures: {driver.find_element(By.ID, 'sign-in-note').text}")
    wait(driver).until(lambda d: "on" in (d.find_element(By.ID, "live-status").get_attribute("class") or ""),
                       "the dashboard's live stream did not open")


def value(driver, css: str) -> float | None:
    """The raw number behind a figure of the page (its `data-value`), None when it shows '—'."""
    raw = driver.find_element(By.CSS_SELECTOR, css).get_attribute("data-value")
    return None if raw is None else float(raw)


class StatisticsAPI:
    """The statistics the dashboard should show, read straight from the API."""

    def __init__(self, base_url: str, client_id: int | str, app_id: str, app_secret: str) -> None:
        self.base_url, self.client_id = base_url, client_id
        form = urllib.parse.urlencode({"grant_type": "client_credentials", "client_id": app_id,
                                       "client_secret": app_secret}).encode()
        with urllib.request.urlopen(urllib.request.Request(f"{base_url}/oauth/token", data=form),
                                    timeout=TIMEOUT) as reply:
            self.token = json.load(reply)["access_token"]
        self.client = self.get(f"client/{client_id}/")

    def get(self, path: str) -> object:
        request = urllib.request.Request(f"{self.base_url}/api/ver1.0/{path}",
                                         headers={"Authorization": f"Bearer {self.token}"})
        with urllib.request.urlopen(request, timeout=TIMEOUT) as reply:
            return json.load(reply)

    def last_days(self, days: int) -> tuple[date, date]:
        """The dashboard's "last N days": today in the client's zone and the N − 1 days before."""
        today = datetime.now(ZoneInfo(self.client["timezone"])).date()
        return today - timedelta(days=days - 1), today

    def statistics(self, period: tuple[date, date], **parameters: str) -> dict:
        query = urllib.parse.urlencode({"start_datetime": f"{period[0]} 00:00:00",
                                        "end_datetime": f"{period[1]} 23:59:59", **parameters})
        return self.get(f"client/{self.client_id}/quality_rate/statistics/?{query}")
