"""The playground page in a real headless Chromium (Debian's), driven by Playwright for Python.

The server runs on 127.0.0.1 at a free port in a thread and is always stopped. The tests use
only the documented ``data-testid`` hooks and the URL hash. Where Chromium is missing they
skip locally but fail in CI (``CI=true``), which installs it.
"""

import contextlib
import math
import os
import re
import shutil
import socket
import threading
import time
from urllib.parse import unquote

import pytest
import uvicorn

from steepest.playground.server import Access, Limits, create_app

CHROMIUM = os.environ.get("STEEPEST_CHROMIUM", "/usr/bin/chromium")
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync"]


def _missing(reason: str):
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"browser tests cannot run in CI: {reason}")
    pytest.skip(reason)


@contextlib.contextmanager
def serving(limits=None, access=None):
    """A playground server on 127.0.0.1 at a free port, in a thread; always stopped."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(create_app(limits or Limits(fps=15), access),
                                           host="127.0.0.1", port=port, log_level="warning"))
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
def server_url():
    with serving() as url:
        yield url


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
    critical = page.get_by_test_id("critical-lr").text_content()  # beside the learning rate
    assert critical.startswith("2/λ_max ") and float(critical.split()[-1]) > 0
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
    open_page(page, server_url, "#hide=optimizer,learning-rate,data,schedule&schedule=cosine")
    assert not page.get_by_test_id("optimizer").is_visible()
    assert not page.get_by_test_id("schedule").is_visible()
    assert not page.locator("label[for=schedule]").is_visible()
    assert not page.get_by_test_id("schedule-options").is_visible()
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


def test_newton_on_the_quadratic_path_lands_on_the_optimum_and_only_the_paths_offer_it(
        page, server_url, tmp_path):
    open_page(page, server_url, "#tab=paths")
    page.wait_for_function("+document.querySelector('[data-testid=paths-canvas]').dataset.shownSteps > 50")
    network_menu = page.locator("[data-testid=optimizer] option").evaluate_all(
        "options => options.map(o => o.value)")
    race_menu = page.locator("#race-entries .entry .opt").first.locator("option").evaluate_all(
        "options => options.map(o => o.value)")
    path_menu = page.locator("#path-entries .entry .opt").first.locator("option").evaluate_all(
        "options => options.map(o => o.value)")
    assert "newton" not in network_menu and "newton" not in race_menu and "lbfgs" in race_menu
    assert {"newton", "lbfgs"} <= set(path_menu)
    assert "muon" in race_menu and "muon" not in path_menu   # its update is for matrices
    rows = page.locator("#path-entries .entry")
    rows.nth(0).locator(".opt").select_option("newton")
    page.wait_for_function("document.querySelector('#path-legend').textContent.includes('Newton lr 1:')")
    assert rows.nth(0).locator(".mu").get_attribute("data-name") == "damping"
    rows.nth(1).locator(".opt").select_option("lbfgs")
    page.wait_for_function("document.querySelector('#path-legend').textContent.includes('L-BFGS lr 1:')")
    legend = page.locator("#path-legend li").all_text_contents()
    newton = next(item for item in legend if item.startswith("Newton"))
    label, value, steps = re.fullmatch(r"(.*): f = (\S+) (after .*)", newton).groups()
    assert (label, steps) == ("Newton lr 1", "after 300 steps")
    assert abs(float(value)) < 1e-8   # f − f_min = 0 only at (0, 0); toPrecision may print 1e-17
    lbfgs = next(item for item in legend if item.startswith("L-BFGS"))
    assert float(lbfgs.split("f = ")[1].split()[0]) < 1e-8
    assert "one step" in page.get_by_test_id("path-note").text_content()
    page.screenshot(path=str(tmp_path / "newton-paths.png"))


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
    assert "starting weights" in page.locator("#lr-range-text").text_content()
    page.wait_for_timeout(300)   # the proposal's red line survives uPlot's redraws
    red = page.evaluate("""() => { const c = document.querySelector('#lr-range-chart canvas');
        const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
        let n = 0; for (let i = 0; i < d.length; i += 4) if (d[i] > 180 && d[i + 1] < 60 && d[i + 2] < 60) n++;
        return n; }""")
    assert red > 20


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


# ---------------------------------------------------------------------- a class in the browser

def error_text(page) -> str:
    page.wait_for_function("document.querySelector('[data-testid=error]').textContent !== ''")
    return page.get_by_test_id("error").text_content()


def test_the_refusal_at_the_limit_reaches_the_page_and_a_reload_keeps_the_slot(browser):
    with serving(Limits(fps=15, max_sessions=1)) as url:
        first = browser.new_page()
        open_page(first, url)
        for _ in range(3):   # a reloaded tab gets its slot back at once
            first.reload()
            first.wait_for_function("+document.querySelector('[data-testid=train-loss]').textContent > 0")
            assert first.get_by_test_id("error").text_content() == ""
        second = browser.new_page()
        second.goto(url)
        text = error_text(second)
        second.wait_for_timeout(500)              # the close that follows must not overwrite it
        text = second.get_by_test_id("error").text_content()
        assert "already runs 1 sessions" in text and "lost" not in text
        first.close()
        second.reload()                            # the first tab is gone: its slot is free
        second.wait_for_function("+document.querySelector('[data-testid=train-loss]').textContent > 0")
        second.close()


def test_a_join_code_is_needed_and_travels_to_the_socket(browser):
    with serving(access=Access(code="abc234")) as url:
        page = browser.new_page()
        response = page.goto(url)
        assert response.status == 403 and "join code" in page.content()
        page.fill("input[name=code]", "abc234")
        page.press("input[name=code]", "Enter")
        page.wait_for_url("**/?code=abc234")
        page.get_by_test_id("train-loss").wait_for()
        page.wait_for_function("+document.querySelector('[data-testid=train-loss]').textContent > 0")
        assert "code=abc234" in page.url
        page.close()


def test_a_page_from_another_site_cannot_open_a_session(browser):
    with serving() as url, serving() as other:
        page = browser.new_page()
        page.goto(other)                           # another origin (another port)
        said = page.evaluate("""(target) => new Promise((resolve) => {
            const ws = new WebSocket(target.replace('http', 'ws') + 'ws');
            let text = '';
            ws.onmessage = (e) => { text = e.data; };
            ws.onclose = (e) => resolve([e.code, text]);
        })""", url)
        assert said[0] == 1008 and "another site" in said[1]
        page.close()


def test_the_teacher_sees_a_student_and_shares_a_setup(browser):
    with serving(access=Access(teacher_code="teach99")) as url:
        student = browser.new_page()
        open_page(student, url, "#dataset=xor&hidden=3")
        student.fill("[data-testid=student-name]", "Ada")
        student.press("[data-testid=student-name]", "Enter")
        student.get_by_test_id("play").click()
        teacher = browser.new_page(viewport={"width": 1280, "height": 700})
        teacher.goto(url + "teacher?code=teach99")
        teacher.wait_for_function("document.querySelector('[data-testid=sessions]').textContent.includes('Ada')")
        teacher.wait_for_function("document.querySelector('[data-testid=sessions] svg polyline') !== null")
        row = teacher.locator("tr", has_text="Ada")
        assert "xor" in row.text_content() and "sgd" in row.text_content()
        other = browser.new_page()
        open_page(other, url)
        teacher.locator("tr", has_text="Ada").locator("button").click()
        other.get_by_test_id("setup-offer").wait_for()
        assert "Ada" in other.get_by_test_id("setup-offer").text_content()
        other.get_by_test_id("apply-setup").click()
        other.wait_for_function("location.hash.includes('dataset=xor')")
        teacher.get_by_test_id("pause-all").click()
        student.get_by_test_id("notice").wait_for()
        student.wait_for_function("document.querySelector('[data-testid=play]').disabled === false")
        assert "paused everyone" in student.get_by_test_id("notice").text_content()
        for p in (student, teacher, other):
            p.close()


def test_the_speed_control_sets_steps_per_frame_and_goes_to_the_url(page, server_url):
    open_page(page, server_url, "#hidden=2")
    page.get_by_test_id("speed").select_option("3")
    page.wait_for_function("location.hash.includes('speed=3')")
    page.get_by_test_id("play").click()
    page.wait_for_function("+document.querySelector('[data-testid=step-count]').textContent >= 30")
    page.get_by_test_id("pause").click()
    page.wait_for_function("document.querySelector('[data-testid=play]').disabled === false")
    assert number(page, "step-count") % 3 == 0


def test_lr_10_is_explained_while_it_only_oscillates(page, server_url):
    open_page(page, server_url, "#lr=10&speed=100")
    page.get_by_test_id("play").click()
    page.wait_for_function("document.querySelector('[data-testid=overshoot]').textContent.includes('overshoots the valley')",
                           timeout=60_000)
    banner = page.get_by_test_id("overshoot")
    text = banner.text_content()
    assert "learning rate 10 is too large" in text and "lr/3 = 3.33" in text
    box = banner.bounding_box()
    assert box["y"] + box["height"] <= 800
    assert page.get_by_test_id("diverged").is_hidden()


def test_the_divergence_banner_is_above_the_fold_and_quotes_the_read_out(page, server_url):
    open_page(page, server_url, "#dataset=plane&hidden=8,8&activation=relu&lr=10")
    page.get_by_test_id("play").click()
    banner = page.get_by_test_id("diverged")
    banner.wait_for()
    box = banner.bounding_box()
    assert box["y"] + box["height"] <= 800
    shown = page.get_by_test_id("train-loss").text_content()
    assert f"{float(shown):.4g}" in banner.text_content() or shown in banner.text_content()


def test_no_file_of_the_page_names_an_optimizer_or_one_of_its_settings():
    """The page builds its optimizer forms from the catalogue the server sends (issue 24)."""
    import re
    from pathlib import Path

    from steepest.optim import catalogue
    from steepest.playground.server import STATIC

    # one-letter settings (Adafactor's d) are left out: "d" is also the SVG path attribute
    names = set(catalogue.OPTIMIZERS) | {hp.name for e in catalogue.OPTIMIZERS.values()
                                         for hp in e.hyperparameters
                                         if hp.name != "lr" and len(hp.name) > 1}
    files = [STATIC / "index.html", *sorted((STATIC / "js").glob("*.js"))]
    for path in files:
        text = Path(path).read_text(encoding="utf-8")
        for name in names:
            quoted = re.search(rf"""["'`=]{re.escape(name)}["'`]|\b{re.escape(name)}:""", text)
            assert quoted is None, f"{path.name} names {name!r}: {quoted.group(0)!r}"


def test_optimizer_settings_come_from_the_catalogue(page, server_url):
    open_page(page, server_url, "#optimizer=adam&lr=0.01")
    labels = page.locator("#optimizer-options label").all_text_contents()
    assert "momentum μ" not in labels and "β₁, β₂" in labels
    page.locator("#optimizer-options input[data-option=betas][data-index='0']").fill("0.8")
    page.locator("#optimizer-options input[data-option=betas][data-index='0']").press("Enter")
    page.wait_for_function("decodeURIComponent(location.hash).includes('betas=0.8,0.999')")
    page.get_by_test_id("optimizer").select_option("sgd")
    page.wait_for_function("!location.hash.includes('betas')")
    assert "momentum μ" in page.locator("#optimizer-options label").all_text_contents()
    page.get_by_test_id("race-tab").click()
    race = page.locator("#race-entries .entry")
    race.first.locator(".opt").select_option("adam")
    assert race.first.locator(".mu").count() == 0


def test_details_back_to_one_network_custom_gauss_and_inert_controls(page, server_url):
    open_page(page, server_url, "#hidden=2")
    page.get_by_test_id("race-tab").click()
    page.get_by_test_id("race-start").click()
    page.wait_for_function("+document.querySelector('[data-testid=step-count]').textContent > 5")
    page.locator("#race-leave").click()
    page.wait_for_function("!location.hash.includes('tab=race')")
    assert page.locator("#view-network").is_visible() and not page.locator("#view-race").is_visible()
    blank = page.evaluate("document.querySelector('#output-map').toDataURL()")
    labels = page.locator("#dataset option").all_text_contents()
    assert len(set(labels)) == len(labels)                   # the two gauss sets read apart
    page.get_by_test_id("dataset").select_option("custom")
    page.wait_for_function("document.querySelector('[data-testid=error]').textContent.includes('custom')")
    pixels = page.evaluate("""() => { const c = document.querySelector('#output-map');
        const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
        let coloured = 0; for (let i = 0; i < d.length; i += 4) if (Math.abs(d[i] - d[i + 2]) > 60) coloured++;
        return coloured; }""")
    assert pixels < 200, "the circle's points are still drawn under the custom data set"
    assert blank != page.evaluate("document.querySelector('#output-map').toDataURL()")
    page.get_by_test_id("paths-tab").click()
    assert page.get_by_test_id("play").is_disabled() and page.get_by_test_id("learning-rate").is_disabled()
    page.locator("[data-tab=network]").click()
    assert page.get_by_test_id("play").is_enabled()


def test_new_weights_keep_the_data(page, server_url):
    open_page(page, server_url, "#hidden=3")
    first = page.evaluate("document.querySelector('#output-map').toDataURL()")
    loss = page.get_by_test_id("train-loss").text_content()
    page.get_by_test_id("new-weights").click()
    page.wait_for_function("location.hash.includes('init_seed=1')")
    page.wait_for_function(f"document.querySelector('[data-testid=train-loss]').textContent !== '{loss}'")
    assert "seed=" not in page.url.replace("init_seed", "")
    assert page.evaluate("document.querySelector('#output-map').toDataURL()") != first


def test_the_article_opens_and_its_links_are_url_states(page, server_url):
    open_page(page, server_url)
    article = page.get_by_test_id("article")
    assert not page.locator("#article section").first.is_visible()
    article.locator("summary").click()
    links = page.locator("#article a[data-try]")
    assert links.count() >= 5
    assert all(h.startswith("#") for h in links.evaluate_all("(as) => as.map((a) => a.getAttribute('href'))"))
    page.locator("#article a", has_text="a linear network").click()
    page.wait_for_function("location.hash.includes('activation=linear')")
    page.wait_for_function("document.querySelector('[data-testid=activation]').value === 'linear'")
    page.wait_for_function("document.querySelectorAll('.node.neuron').length === 8")


def test_the_paths_view_has_log_spaced_contours_a_slider_and_a_word_on_zigzags(page, server_url):
    open_page(page, server_url, "#tab=paths")
    page.get_by_test_id("path-function").select_option("rosenbrock")
    page.wait_for_function("document.querySelector('#path-legend').textContent.includes('lr 0.001')")
    canvas = page.get_by_test_id("paths-canvas")
    assert int(canvas.get_attribute("data-levels")) >= 10          # d3-contour drew the levels
    assert "zigzags" in page.get_by_test_id("path-note").text_content()
    slider = page.get_by_test_id("path-slider")
    page.wait_for_function("+document.querySelector('[data-testid=path-slider]').max >= 299")
    slider.fill("10")
    assert canvas.get_attribute("data-shown-steps") == "11"
    early = page.evaluate("document.querySelector('[data-testid=paths-canvas]').toDataURL()")
    slider.fill("200")
    assert page.evaluate("document.querySelector('[data-testid=paths-canvas]').toDataURL()") != early
    assert page.request.get(server_url + "vendor/d3-contour.LICENSE").ok


def test_edit_a_weight_and_a_bias_by_hand_and_preview_a_neuron(page, server_url):
    open_page(page, server_url, "#hidden=3")
    page.locator("[data-link='1,0,1']").click(force=True)
    page.get_by_test_id("edit-value").fill("1.75")
    page.get_by_test_id("edit-set").click()
    page.wait_for_function("document.querySelector(\"[data-link='1,0,1'] title\").textContent.startsWith('weight 1.7500')")
    assert page.locator(".bias").count() == 3 + 1
    page.locator("[data-bias='0,2']").click()
    page.get_by_test_id("edit-value").fill("-0.5")
    page.get_by_test_id("edit-set").click()
    page.wait_for_function("document.querySelector(\"[data-bias='0,2']\").title.startsWith('bias -0.5000')")
    before = page.evaluate("document.querySelector('#output-map').toDataURL()")
    page.locator(".node.neuron").first.hover()
    page.wait_for_function(f"document.querySelector('#output-map').toDataURL() !== '{before}'")
    page.mouse.move(5, 5)
    page.wait_for_function(f"document.querySelector('#output-map').toDataURL() === '{before}'")


def test_hovering_a_feature_does_not_cover_its_neighbour(page, server_url):
    open_page(page, server_url)
    feature = page.locator("[data-feature='x1']")
    size = feature.bounding_box()["height"]
    feature.hover()
    page.wait_for_timeout(200)
    assert feature.bounding_box()["height"] == pytest.approx(size)
    page.locator("[data-feature='x2']").click()          # the neighbour below gets the click
    page.wait_for_function("!decodeURIComponent(location.hash).includes('x2') && location.hash.includes('features=x1')")


def test_the_problem_type_switches_the_data_sets(page, server_url):
    open_page(page, server_url)
    assert page.get_by_test_id("problem").input_value() == "classification"
    page.get_by_test_id("problem").select_option("regression")
    page.wait_for_function("location.hash.includes('dataset=plane')")
    page.wait_for_function("+document.querySelector('[data-testid=train-loss]').textContent > 0")
    visible = page.evaluate("[...document.querySelectorAll('#dataset optgroup')].filter((g) => !g.hidden).map((g) => g.label)")
    assert visible == ["regression"]


def test_the_output_map_has_a_colour_key(page, server_url):
    open_page(page, server_url)
    assert "P(class 1)" in page.get_by_test_id("map-legend").text_content()
    page.evaluate("location.hash = '#dataset=blobs&n_classes=4'")
    page.wait_for_function("document.querySelector('[data-testid=map-legend]').textContent.includes('class 3')")


def test_every_catalogue_schedule_is_in_the_menu_and_warm_restarts_moves_the_lr(page, server_url,
                                                                                tmp_path):
    from steepest.optim.catalogue import SCHEDULERS

    open_page(page, server_url, "#dataset=gauss&optimizer=sgd&lr=0.1&hidden=4")
    menu = page.get_by_test_id("schedule")
    assert menu.locator("option").evaluate_all("os => os.map(o => o.value)") == \
        ["none", *SCHEDULERS]
    assert menu.locator("option").all_text_contents()[1:] == [e.label for e in SCHEDULERS.values()]
    assert page.locator("#schedule-options label").count() == 0
    menu.select_option("warm_restarts")
    page.wait_for_function("decodeURIComponent(location.hash).includes('schedule=warm_restarts')")
    labels = page.locator("#schedule-options label").all_text_contents()
    assert labels == [hp.label for hp in SCHEDULERS["warm_restarts"].hyperparameters]
    assert page.locator("#schedule-options input[data-option=T_0]").input_value() == "50"
    page.locator("#schedule-options input[data-option=T_0]").fill("30")
    page.locator("#schedule-options input[data-option=T_0]").press("Enter")
    page.wait_for_function("location.hash.includes('T_0=30')")
    page.wait_for_function("document.querySelector('[data-testid=step-count]').textContent === '0'")
    seen = set()
    for _ in range(12):  # a few steps at a time: the lr follows the cosine and restarts
        before = number(page, "step-count")
        page.get_by_test_id("step").click()   # the snapshot sets the count and the lr together
        page.wait_for_function(
            f"+document.querySelector('[data-testid=step-count]').textContent > {before}")
        seen.add(page.locator("#lr-now").text_content())
    page.get_by_test_id("play").click()
    page.wait_for_function("+document.querySelector('[data-testid=step-count]').textContent > 200")
    page.get_by_test_id("pause").click()
    page.wait_for_function("document.querySelector('[data-testid=play]').disabled === false")
    seen.add(page.locator("#lr-now").text_content())
    rates = sorted(float(text.strip("()").split()[-1]) for text in seen if text)
    assert len(rates) >= 5 and rates[0] < 0.09 and rates[-1] <= 0.1, seen
    page.screenshot(path=str(tmp_path / "warm_restarts.png"), full_page=True)
    shot = os.environ.get("STEEPEST_SCREENSHOT")  # to look at it: STEEPEST_SCREENSHOT=path
    if shot:
        page.screenshot(path=shot, full_page=True)


def test_a_link_of_the_old_schedule_menu_is_translated_into_catalogue_settings(page,
                                                                              server_url):
    open_page(page, server_url, "#schedule=cosine&schedule_steps=200")
    page.wait_for_function("location.hash.includes('T_max=200')")
    assert "schedule_steps" not in page.url
    assert page.get_by_test_id("schedule").input_value() == "cosine"
    assert page.locator("#schedule-options input[data-option=T_max]").input_value() == "200"
    assert page.get_by_test_id("error").text_content() == ""
    page.evaluate("location.hash = '#schedule=step'")  # the old menu's N was 1000 by default
    page.wait_for_function("location.hash.includes('step_size=1000')")
    assert "gamma=0.5" in page.url
