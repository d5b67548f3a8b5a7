"""Fixtures of the SIP end-to-end tests: one `qualityrate serve` for the session (its own HTTP,
SIP and RTP ports, --trunk 127.0.0.1/32), its API as the client `qualityrate setup` made, and
per test a SIPp launcher whose runs' logs, with the server's log of the test, are shown when the
test fails."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from harness import API, Numbers, QualityRateServer, Sipp

_LOGS = pytest.StashKey[tuple[QualityRateServer, int, list[Sipp]]]()


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[QualityRateServer]:
    running = QualityRateServer(tmp_path_factory.mktemp("qualityrate"))
    try:
        running.start()
        yield running
    finally:
        running.stop()


@pytest.fixture(scope="session")
def api(server: QualityRateServer) -> API:
    return API(server)


@pytest.fixture(scope="session")
def numbers() -> Numbers:
    return Numbers()


@pytest.fixture
def sipp(server: QualityRateServer, tmp_path, request: pytest.FixtureRequest) -> Iterator[Sipp]:
    launcher = Sipp(server, tmp_path / "sipp")
    request.node.stash[_LOGS] = (server, server.log_size(), [launcher])
    try:
        yield launcher
    finally:
        launcher.stop_all()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]):
    outcome = yield
    report = outcome.get_result()
    if report.when != "call" or not report.failed or _LOGS not in item.stash:
        return
    server, offset, launchers = item.stash[_LOGS]
    for launcher in launchers:
        if launcher.runs:
            report.sections.append(("SIPp runs", launcher.report()))
    report.sections.append((f"qualityrate serve log during the test ({server.log_path})", server.log_since(offset)))
