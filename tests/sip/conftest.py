"""Fixtures of the SIP end-to-end tests: one `qualityrate serve` for the session (its own HTTP,
SIP and RTP ports, --trunk 127.0.0.1/32), its API as the client `qualityrate setup` made, and
per test a SIPp launcher whose runs' logs, with the server's log of the test, are shown when the
test fails (`failure_report`; a module running servers of its own adds their logs to it)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from harness import API, FailureReport, Numbers, QualityRateServer, Sipp

_REPORT = pytest.StashKey[FailureReport]()


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
def failure_report(request: pytest.FixtureRequest) -> FailureReport:
    report = FailureReport()
    request.node.stash[_REPORT] = report
    return report


@pytest.fixture
def sipp(server: QualityRateServer, tmp_path, failure_report: FailureReport) -> Iterator[Sipp]:
    launcher = Sipp(server.sip_address, tmp_path / "sipp")
    failure_report.launchers.append(launcher)
    failure_report.watch("qualityrate serve log", server)
    try:
        yield launcher
    finally:
        launcher.stop_all()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]):
    outcome = yield
    report = outcome.get_result()
    if report.when != "call" or not report.failed or _REPORT not in item.stash:
        return
    shown = item.stash[_REPORT]
    for launcher in shown.launchers:
        if launcher.runs:
            report.sections.append(("SIPp runs", launcher.report()))
    for title, text in shown.logs:
        report.sections.append((title, text()))
