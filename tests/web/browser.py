"""Headless Chromium for the browser tests (tests/web, and tests/sip for the live dashboard):
Debian's `chromium` and `chromium-driver`, given by path so Selenium never downloads either."""

from __future__ import annotations

import os

import pytest

os.environ.setdefault("SE_OFFLINE", "true")  # never let Selenium Manager reach out

from selenium import webdriver  # noqa: E402
from selenium.webdriver.chrome.options import Options  # noqa: E402
from selenium.webdriver.chrome.service import Service  # noqa: E402

CHROMEDRIVER = "/usr/bin/chromedriver"
CHROMIUM = "/usr/bin/chromium"
TIMEOUT = 20


def chromium(width: int = 1400, height: int = 1000) -> webdriver.Chrome:
    """A headless Chromium window of `width` × `height` CSS pixels."""
    for path in (CHROMEDRIVER, CHROMIUM):
        if not os.path.exists(path):
            pytest.fail(f"{path} is missing: apt-get install -y chromium chromium-driver", pytrace=False)
    options = Options()
    options.binary_location = CHROMIUM
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                     f"--window-size={width},{height}", "--lang=en-US"):
        options.add_argument(argument)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(TIMEOUT)
    return driver
