"""The playground page in a real headless Chromium (Debian's), driven by Playwright for Python.

The server runs on 127.0.0.1 at a free port in a thread and is always stopped. The tests use
only the documented ``data-testid`` hooks and the URL hash. Where Chromium is missing they
skip locally but fail in CI (``CI=true``), which installs it.
"""

import math
import os
import shutil
import socket
import threading
import time
from urllib.parse import unquote

import pytest
import uvicorn

from steepest.playground.server import Limits, create_app

CHROMIUM = os.environ.get("STEEPEST_CHROMIUM", "/usr/bin/chromium")
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync"]


def _missing(reason: str):
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"browser tests cannot run in CI: {reason}")
    pytest.skip(reason)


@pytest.fixture(scope="module")
def server_url():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(create_app(Limits(fps=15)), host="127.0.0.1", port=port,
                                           log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 30
        while not server.started:
            if time.monotonic() > deadline or not thread.is_alive():
                raise RuntimeError("the playground server did not start")
            time.sleep(0.05)
        yield f"http://127.0.0.1:{port}/"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


@pytest.fixture(scope="module")
def browser():
    if not (os.path.exists(CHROMIUM) or shutil.which(CHROMIUM)):
        _missing(f"no Chromium at {CHROMIUM} (apt-get install -y chromium)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _missing("playwright for Python is not installed (pip install playwright)")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        yield browser
        browser.close()


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1280, "height": 800}, accept_downloads=True)
    page = context.new_page()
    page.set_default_timeout(30_000)
    yield page
    context.close()


def number(page, testid) -> float:
    return float(page.get_by_test_id(testid).text_content())


def open_page(page, url, hash_=""):
    page.goto(url + hash_)
    page.wait_for_function("document.querySelector('[data-testid=train-loss]').textContent !== '–'")


def test_play_moves_counter_and_curves_and_loss_falls(page, server_url, tmp_path):
    open_page(page, server_url, "#dataset=gauss&optimizer=adam&lr=0.03&hidden=4")
    start_loss = number(page, "train-loss")
    chart_before = page.evaluate("document.querySelector('#loss-chart canvas').toDataURL()")
    page.get_by_test_id("play").click()
    page.wait_for_function("+document.querySelector('[data-testid=step-count]').textContent > 300")
    page.get_by_test_id("pause").click()
    page.wait_for_function("document.querySelector('[data-testid=play]').disabled === false")
    assert number(page, "train-loss") < 0.5 * start_loss
    assert math.isfinite(number(page, "test-loss"))
    assert number(page, "steps-per-s") > 0 and number(page, "fps") > 0
    assert page.evaluate("document.querySelector('#loss-chart canvas').toDataURL()") != chart_before
    stopped = number(page, "step-count")
    page.get_by_test_id("step").click()
    page.wait_for_function(f"+document.querySelector('[data-testid=step-count]').textContent === {stopped + 1}")
    page.screenshot(path=str(tmp_path / "playground.png"))
    assert (tmp_path / "playground.png").stat().st_size > 10_000


def test_changing_controls_updates_the_url_and_lr_keeps_training(page, server_url):
    open_page(page, server_url)
    page.get_by_test_id("dataset").select_option("xor")
    page.wait_for_function("location.hash.includes('dataset=xor')")
    page.get_by_test_id("optimizer").select_option("adam")
    page.get_by_test_id("activation").select_option("relu")
    page.wait_for_function("location.hash.includes('activation=relu')")
    assert "optimizer=adam" in page.url
    page.get_by_test_id("step").click()
    page.wait_for_function("document.querySelector('[data-testid=step-count]').textContent === '1'")
    page.get_by_test_id("learning-rate").fill("0.1")
    page.get_by_test_id("learning-rate").press("Enter")
    page.wait_for_function("location.hash.includes('lr=0.1')")
    page.get_by_test_id("step").click()
    page.wait_for_function("document.querySelector('[data-testid=step-count]').textContent === '2'")


def test_loading_a_url_restores_the_controls(page, server_url):
    open_page(page, server_url, "#dataset=spirals&n_classes=4&optimizer=rmsprop&lr=0.003"
                                "&activation=relu&hidden=3,5,3&features=x1,x2,sinx1")
    assert page.get_by_test_id("dataset").input_value() == "spirals"
    assert page.get_by_test_id("optimizer").input_value() == "rmsprop"
    assert page.get_by_test_id("activation").input_value() == "relu"
    assert float(page.get_by_test_id("learning-rate").input_value()) == 0.003
    assert page.locator(".node.neuron").count() == 11
    assert page.locator(".node.output").count() == 4
    assert page.locator(".node.feature.active").count() == 3


@pytest.mark.parametrize("hash_, text", [("#hidden=9", "hidden[0]"), ("#lr=-1", "lr must be in"),
                                         ("#dataset=banana", "unknown dataset")])
def test_bad_settings_show_a_clear_error(page, server_url, hash_, text):
    page.goto(server_url + hash_)
    page.wait_for_function("document.querySelector('[data-testid=error]').textContent !== ''")
    assert text in page.get_by_test_id("error").text_content()
    page.evaluate("location.hash = '#dataset=moons'")   # a shared link opened next: the session lives on
    page.wait_for_function("document.querySelector('[data-testid=error]').textContent === ''")


def test_url_flags_hide_controls(page, server_url):
    open_page(page, server_url, "#hide=optimizer,learning-rate,data")
    assert not page.get_by_test_id("optimizer").is_visible()
    assert not page.get_by_test_id("learning-rate").is_visible()
    assert not page.get_by_test_id("dataset").is_visible()
    assert page.get_by_test_id("play").is_visible()


def test_optimizer_race_runs(page, server_url):
    open_page(page, server_url, "#hidden=4")
    page.get_by_test_id("race-tab").click()
    page.get_by_test_id("race-start").click()
    page.wait_for_function("+document.querySelector('[data-testid=step-count]').textContent > 50")
    legend = page.locator("#race-chart .u-legend .u-series").all_text_contents()
    assert len(legend) == 4 and any("momentum 0.9" in label for label in legend)
    assert page.locator("#race-maps canvas").count() == 4


def test_paths_view_runs_and_restarts_on_click(page, server_url):
    open_page(page, server_url, "#tab=paths")
    canvas = page.get_by_test_id("paths-canvas")
    page.wait_for_function("+document.querySelector('[data-testid=paths-canvas]').dataset.shownSteps > 50")
    assert page.locator("#path-legend li").count() == 4
    page.get_by_test_id("path-function").select_option("rosenbrock")
    page.wait_for_function("document.querySelector('#path-legend').textContent.includes('lr 0.001')")
    canvas.click(position={"x": 400, "y": 300})
    page.wait_for_function("+document.querySelector('[data-testid=paths-canvas]').dataset.shownSteps > 10")


def test_chain_rule_inspector_matches_autodiff(page, server_url):
    open_page(page, server_url, "#hidden=3")
    page.get_by_test_id("step").click()
    page.wait_for_function("document.querySelector('[data-testid=step-count]').textContent === '1'")
    page.locator("[data-link='1,0,1']").click(force=True)
    chain = page.get_by_test_id("chain-rule-grad")
    chain.wait_for()
    assert float(chain.text_content()) == pytest.approx(float(page.get_by_test_id("autodiff-grad").text_content()), rel=1e-5)


def test_custom_points_by_clicking(page, server_url):
    page.goto(server_url + "#dataset=custom")
    output = page.locator("#output-map")
    output.wait_for()
    for x, y, shift in [(60, 60, False), (90, 70, False), (300, 300, True), (280, 320, True), (70, 90, False)]:
        output.click(position={"x": x, "y": y}, modifiers=["Shift"] if shift else [])
    page.wait_for_function("decodeURIComponent(location.hash).split(';').length === 5")
    page.wait_for_function("document.querySelector('[data-testid=error]').textContent === ''")
    page.get_by_test_id("play").click()
    page.wait_for_function("+document.querySelector('[data-testid=step-count]').textContent > 20")
    assert "points=" in unquote(page.url)


def test_export_python_and_lr_range(page, server_url):
    open_page(page, server_url, "#hidden=3")
    with page.expect_download() as info:
        page.get_by_test_id("export-python").click()
    text = open(info.value.path(), encoding="utf-8").read()
    assert "import steepest as st" in text and "STEPS = 0" in text
    page.get_by_test_id("lr-range").click()
    suggested = page.get_by_test_id("suggested-lr")
    suggested.wait_for()
    assert 1e-5 <= float(suggested.text_content()) <= 10


def test_network_controls_and_view_flags_go_to_the_url(page, server_url):
    open_page(page, server_url, "#hidden=2")
    page.locator("#add-layer").click()
    page.wait_for_function("location.hash.includes('hidden=2%2C2') || location.hash.includes('hidden=2,2')")
    page.locator("[data-layer-add='1']").click()
    page.wait_for_function("decodeURIComponent(location.hash).includes('hidden=2,3')")
    page.locator(".layer-activation").nth(1).select_option("binary_step")
    page.wait_for_function("decodeURIComponent(location.hash).includes('activations=tanh,binary_step')")
    page.locator("[data-feature='sinx1']").click()
    page.wait_for_function("decodeURIComponent(location.hash).includes('features=x1,x2,sinx1')")
    page.locator("#show_test").check()
    page.locator("#discretize").check()
    page.wait_for_function("location.hash.includes('show_test=true') && location.hash.includes('discretize=true')")
    page.wait_for_function("document.querySelectorAll('.node.neuron').length === 5")
    page.get_by_test_id("step").click()
    page.get_by_test_id("step").click()
    page.wait_for_function("document.querySelector('#notes').textContent.includes('Binary step')")
