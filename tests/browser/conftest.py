"""The browser tests run on the integration tests' real Synapse and harness (their fixtures,
imported here), plus a headless Chromium (Debian's, installed by tests/browser/install.sh)."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration.conftest import (  # noqa: F401  (fixtures)
    appservice_port,
    appservice_registration,
    harness,
    linli_engine,
    make_user,
    session,
    staff_client,
    synapse,
)

ARTEFACTS = Path(os.environ.get("LINLI_ARTEFACTS", "build/browser-artefacts"))


@pytest.fixture(scope="session")
def artefacts() -> Path:
    """Where screenshots are kept (CI keeps the folder)."""
    ARTEFACTS.mkdir(parents=True, exist_ok=True)
    return ARTEFACTS


@pytest.fixture
def browser(request: pytest.FixtureRequest, artefacts: Path) -> Iterator[object]:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    chromium = shutil.which("chromium")
    driver_path = shutil.which("chromedriver")
    if chromium is None or driver_path is None:
        pytest.fail("Chromium is not installed: run `make browser-test` (tests/browser/install.sh)")
    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--window-size=1000,1400"):
        options.add_argument(flag)
    options.add_argument("--lang=zh-CN")
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(driver_path), options=options)
    driver.set_page_load_timeout(30)
    try:
        yield driver
    finally:
        # What the page said and showed, for a failure's report (and kept as an artefact).
        name = request.node.name
        try:
            driver.switch_to.default_content()
            driver.save_screenshot(str(artefacts / f"{name}-last.png"))
            console = "\n".join(str(line) for line in driver.get_log("browser"))
            (artefacts / f"{name}-console.txt").write_text(console, encoding="utf-8")
        finally:
            driver.quit()
