"""Browser tests of the API browser page (/api/browser), driven by headless Chromium.

Needs Debian's `chromium` and `chromium-driver` and PyPI's `selenium` and `pytest` (browser.py), and
a running, seeded server given through the environment (conftest.py).
"""

from __future__ import annotations

import json
import pathlib
import urllib.request

import pytest

from browser import TIMEOUT, chromium
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as EC
from selenium.webdriver.support.ui import Select, WebDriverWait

RATINGS_OPERATION = "GET /api/ver1.0/client/{client_id}/quality_rate/"
ARTIFACTS = pathlib.Path(__file__).resolve().parent / "artifacts"


@pytest.fixture(scope="session")
def openapi_operations(base_url: str) -> set[str]:
    """`METHOD PATH` of every operation of the served OpenAPI document."""
    with urllib.request.urlopen(f"{base_url}/api/ver1.0/openapi.json", timeout=TIMEOUT) as response:
        document = json.load(response)
    methods = {"get", "put", "post", "delete", "patch"}
    return {
        f"{method.upper()} {path}"
        for path, item in document["paths"].items()
        for method in item
        if method in methods
    }


@pytest.fixture(scope="session")
def browser_session():
    driver = chromium()
    yield driver
    driver.quit()


@pytest.fixture()
def page(browser_session, base_url):
    """The API browser, freshly loaded, with its operation list built from the OpenAPI document."""
    browser_session.get(f"{base_url}/api/browser")
    wait = WebDriverWait(browser_session, TIMEOUT)
    wait.until(EC.presence_of_element_located(
        (By.CSS_SELECTOR, f'#operation option[value="{RATINGS_OPERATION}"]')))
    return browser_session


def _wait(driver) -> WebDriverWait:
    return WebDriverWait(driver, TIMEOUT)


def _get_token(driver, app_credentials) -> str:
    app_id, app_secret = app_credentials
    driver.find_element(By.ID, "app-id").send_keys(app_id)
    driver.find_element(By.ID, "app-secret").send_keys(app_secret)
    driver.find_element(By.ID, "get-token").click()
    _wait(driver).until(lambda d: d.find_element(By.ID, "token").get_attribute("value").strip() != "")
    return driver.find_element(By.ID, "token").get_attribute("value").strip()


def _send_list_ratings(driver, client_id: str) -> tuple[str, str]:
    """Picks the ratings list, fills client_id, presses Send; returns (status text, body text)."""
    Select(driver.find_element(By.ID, "operation")).select_by_value(RATINGS_OPERATION)
    field = _wait(driver).until(EC.presence_of_element_located((By.ID, "param-client_id")))
    field.clear()
    field.send_keys(client_id)
    driver.find_element(By.ID, "send").click()
    status = _wait(driver).until(
        lambda d: (lambda t: t if t[:3].isdigit() else False)(d.find_element(By.ID, "response-status").text.strip()))
    return status, driver.find_element(By.ID, "response-body").text


def test_page_lists_every_operation_of_the_openapi_document(page, openapi_operations):
    options = Select(page.find_element(By.ID, "operation")).options
    listed = {option.get_attribute("value") for option in options}
    assert listed == openapi_operations
    assert RATINGS_OPERATION in listed
    for option in options:
        assert option.text.startswith(option.get_attribute("value"))
    assert "QualityRate" in page.title


def test_get_token_form_fills_the_token_field(page, app_credentials, base_url, client_id):
    token = _get_token(page, app_credentials)
    assert "error" not in page.find_element(By.ID, "token-status").get_attribute("class")
    # The token the page shows is a real one: the API accepts it.
    request = urllib.request.Request(f"{base_url}/api/ver1.0/client/{client_id}/",
                                     headers={"Authorization": f"Bearer {token}"})
    with urllib.request.urlopen(request, timeout=TIMEOUT) as response:
        assert response.status == 200


def test_list_ratings_with_a_token_shows_200_and_ratings(page, app_credentials, client_id):
    _get_token(page, app_credentials)
    status, body = _send_list_ratings(page, client_id)
    assert status.startswith("200"), f"status {status!r}, body {body[:500]!r}"
    assert '"max_rate"' in body
    assert '"call_uuid"' in body
    records = json.loads(body)
    assert isinstance(records, list) and records, "the seeded client should have ratings"
    assert set(records[0]) == {"id", "client_id", "call_uuid", "datetime", "extension_id", "rate", "max_rate"}


def test_client_id_is_remembered_across_operations(page, app_credentials, client_id):
    _get_token(page, app_credentials)
    _send_list_ratings(page, client_id)
    Select(page.find_element(By.ID, "operation")).select_by_value(
        "GET /api/ver1.0/client/{client_id}/call_history/")
    assert page.find_element(By.ID, "param-client_id").get_attribute("value") == client_id
    assert page.find_element(By.ID, "param-start_datetime").is_displayed()


def test_bogus_pasted_token_shows_401(page, client_id):
    token = page.find_element(By.ID, "token")
    token.clear()
    token.send_keys("bogus-token-that-was-never-issued")
    status, body = _send_list_ratings(page, client_id)
    assert status.startswith("401"), f"status {status!r}, body {body[:500]!r}"
    assert "invalid_token" in body


def test_screenshot_after_listing_ratings(page, app_credentials, client_id):
    _get_token(page, app_credentials)
    Select(page.find_element(By.ID, "operation")).select_by_value(RATINGS_OPERATION)
    _wait(page).until(EC.presence_of_element_located((By.ID, "param-limit"))).send_keys("20")
    status, body = _send_list_ratings(page, client_id)
    assert status.startswith("200"), f"status {status!r}, body {body[:500]!r}"
    page.execute_script("window.scrollTo(0, 0)")  # Send scrolled down; show the page as a person first sees it
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    target = ARTIFACTS / "api-browser.png"
    assert page.save_screenshot(str(target))
    assert target.stat().st_size > 10_000
