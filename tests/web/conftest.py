"""What the browser tests of tests/web share: the running, seeded server they are pointed at.

The server must already run and be seeded (`qualityrate setup` + `qualityrate demo`); the calling
script (scripts/test) passes it in through the environment:

    QR_BASE_URL    e.g. http://127.0.0.1:18080
    QR_CLIENT_ID   the numeric client id printed by `qualityrate setup`
    QR_APP_ID      the application's app id printed by `qualityrate setup`
    QR_APP_SECRET  the application's secret printed by `qualityrate setup`
"""

from __future__ import annotations

import os

import pytest


def _require_env(name: str) -> str:
    value = os.environ.get(name, "").strip()
    if not value:
        pytest.fail(
            f"environment variable {name} is not set: these tests need a running, seeded QualityRate "
            "server; set QR_BASE_URL, QR_CLIENT_ID, QR_APP_ID and QR_APP_SECRET "
            "(from `qualityrate setup`) before running pytest",
            pytrace=False,
        )
    return value


@pytest.fixture(scope="session")
def base_url() -> str:
    return _require_env("QR_BASE_URL").rstrip("/")


@pytest.fixture(scope="session")
def client_id() -> str:
    return _require_env("QR_CLIENT_ID")


@pytest.fixture(scope="session")
def app_credentials() -> tuple[str, str]:
    return _require_env("QR_APP_ID"), _require_env("QR_APP_SECRET")


