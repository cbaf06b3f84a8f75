"""`minigan lab` in a real browser: headless Chromium driven by Selenium.

What a learner does, checked end to end: load the page, start training, see the picture change,
read losses that are the server's, pause, take one D step, one G step (its chain shown) and one
full step, switch the loss while training runs, draw points with the mouse. Screenshots go to
``$MINIGAN_TEST_ARTIFACTS`` (default ``test-artifacts/``): ``lab.png`` (the ring, after a G
step; the one in the README) and ``lab-drawn.png``.

Needs ``chromium`` and ``chromium-driver`` (Debian; ``.ci/run`` installs them) and ``selenium``
(the ``test`` extra); skipped cleanly where one is missing. Marked ``slow`` (CI runs it once,
on NumPy, with the slow tests) and ``browser``: ``pytest -m browser tests/test_lab_browser.py``.
"""

from __future__ import annotations

import os
import pathlib
import shutil
import time

import pytest

from minigan.app.lab import LabOptions, start_lab

pytestmark = [pytest.mark.slow, pytest.mark.browser]

webdriver = pytest.importorskip("selenium.webdriver", reason="selenium not installed: pip install selenium")
from selenium.webdriver.common.action_chains import ActionChains  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.support.ui import Select  # noqa: E402

CHROMIUM = next((p for p in map(shutil.which, ("chromium", "chromium-browser", "google-chrome")) if p), None)
DRIVER = shutil.which("chromedriver")
if CHROMIUM is None or DRIVER is None:
    pytest.skip("Chromium or chromedriver not found: apt-get install chromium chromium-driver", allow_module_level=True)

ARTIFACTS = pathlib.Path(os.environ.get("MINIGAN_TEST_ARTIFACTS", "test-artifacts"))


def wait_for(condition, timeout=30.0, what="condition"):
    deadline = time.time() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.time() > deadline:
            raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")
        time.sleep(0.05)


@pytest.fixture
def lab():
    server = start_lab(LabOptions(port=0, no_browser=True)).serve_in_background()
    yield server
    server.stop()


@pytest.fixture
def browser():
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1400,1000"):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(options=options, service=webdriver.ChromeService(executable_path=DRIVER))
    yield driver
    driver.quit()


def test_the_page_trains_steers_and_draws(lab, browser):
    session = lab.session
    page = browser
    page.get(lab.url)
    el = lambda id_: page.find_element(By.ID, id_)  # noqa: E731
    frame_seq = lambda: int(page.execute_script("return Number(document.body.dataset.frame || 0)"))  # noqa: E731
    picture = lambda: page.execute_script("return document.getElementById('field').toDataURL()")  # noqa: E731

    # Loaded and live: the first frame is drawn.
    wait_for(lambda: frame_seq() >= 1, what="the first frame")
    wait_for(lambda: el("connection").text == "live", what="the event stream")
    before = picture()

    # Start training: the step counter runs and the picture changes.
    el("play").click()
    wait_for(lambda: int(el("stat-step").get_attribute("data-value") or 0) >= 1500, timeout=120, what="1500 steps")
    assert picture() != before

    # Pause: the numbers shown are the server's, exactly.
    el("pause").click()
    # The frame published after the pause says playing: False; until it is on the page, a frame
    # from the last moments of play may still be on its way.
    paused = lambda: session.latest_frame()["playing"] is False  # noqa: E731
    wait_for(lambda: paused() and frame_seq() == session.latest_frame()["seq"], what="the paused frame")
    frame = session.latest_frame()
    assert int(el("stat-step").get_attribute("data-value")) == frame["step"]
    for key, value in frame["stats"].items():
        shown = el(f"stat-{key}")
        assert float(shown.get_attribute("data-value")) == value, key
        assert shown.text == f"{value:.4f}", key

    # One D step, one G step (its chain appears), one full step.
    d0, g0, s0 = frame["d_updates"], frame["g_updates"], frame["step"]
    el("step-d").click()
    wait_for(lambda: el("stat-d_updates").text == str(d0 + 1), what="one D update")
    assert el("stat-g_updates").text == str(g0)
    el("step-g").click()
    wait_for(lambda: el("stat-g_updates").text == str(g0 + 1), what="one G update")
    wait_for(lambda: el("chain").is_displayed(), what="the G-step chain")
    assert f"G update {g0 + 1}" in el("chain").text and "‖Δθ‖" in el("chain").text
    el("step").click()
    wait_for(lambda: el("stat-step").text == str(s0 + 1), what="one full step")
    assert el("stat-d_updates").text == str(d0 + 2)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.save_screenshot(str(ARTIFACTS / "lab.png"))

    # Switch the loss while training runs: the server takes it and keeps training.
    el("play").click()
    wait_for(lambda: session.playing, what="playing again")
    Select(el("loss")).select_by_value("wgan-gp")
    wait_for(lambda: session.settings.loss == "wgan-gp", what="the loss switch")
    wait_for(lambda: el("label-d_real").text == "mean score C(x)", what="the critic's labels")
    step = session.latest_frame()["step"]
    wait_for(lambda: session.latest_frame()["step"] > step + 10, what="training after the switch")
    assert session.trainer.loss.name == "wgan-gp" and session.trainer.gp_weight == 10.0

    # Draw points: a stroke on the picture becomes the data.
    Select(el("data")).select_by_value("drawn")
    wait_for(lambda: el("draw-hint").is_displayed(), what="the drawing hint")
    field = el("field")
    stroke = ActionChains(page).move_to_element_with_offset(field, -150, -100).click_and_hold()
    for _ in range(12):
        stroke = stroke.move_by_offset(20, 12)
    stroke.release().perform()
    drawn = int(el("points-count").text)
    assert drawn >= 10
    wait_for(lambda: len(session.drawn) == drawn, what="the drawn points on the server")
    assert session.data.n_modes == drawn and session.settings.data == "drawn"
    xs = [p[0] for p in session.drawn]
    assert xs == sorted(xs)  # the stroke went left to right
    step = session.latest_frame()["step"]
    wait_for(lambda: session.latest_frame()["step"] > step + 10, what="training on the drawing")
    el("pause").click()
    wait_for(lambda: not session.playing, what="the pause")
    page.save_screenshot(str(ARTIFACTS / "lab-drawn.png"))

    errors = [e for e in page.get_log("browser") if e["level"] == "SEVERE"]
    assert not errors, errors
