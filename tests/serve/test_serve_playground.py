"""The playground page driven in headless Chromium (selenium + Debian's chromium and chromium-driver).

Skips cleanly where selenium or the browser is absent: `apt-get install -y chromium chromium-driver` and
`pip install selenium`. The screenshot goes to $ROOTS_TEST_ARTIFACTS (default: the test's tmp dir).
"""

import os
import shutil
from pathlib import Path

import pytest
from serve_helpers import live_server

webdriver = pytest.importorskip("selenium.webdriver", reason="selenium is not installed")
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = shutil.which("chromedriver")
pytestmark = pytest.mark.skipif(not (CHROMIUM and CHROMEDRIVER),
                                reason="needs Debian's chromium + chromium-driver (apt-get install -y chromium "
                                       "chromium-driver)")

COUNT_RENDERS = """
window.renders = 0;
new MutationObserver(() => { window.renders++; })
  .observe(document.getElementById('output'), {childList: true, subtree: true, characterData: true});
"""


@pytest.fixture(scope="module")
def browser():
    from selenium.webdriver.chrome.options import Options
    from selenium.webdriver.chrome.service import Service

    options = Options()
    options.binary_location = CHROMIUM
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                 "--window-size=1200,900"):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(30)
    yield driver
    driver.quit()


@pytest.fixture(scope="module")
def page(tiny_model, browser):
    with live_server(tiny_model) as (url, _):
        browser.get(url + "/")
        yield browser


def wait(driver, condition, seconds=30):
    from selenium.webdriver.support.ui import WebDriverWait

    return WebDriverWait(driver, seconds, poll_frequency=0.05).until(condition)


def test_completion_streams_into_the_page(page, tmp_path):
    from selenium.webdriver.common.by import By

    wait(page, lambda d: "tiny-gpt2" in d.find_element(By.ID, "model").text)
    page.find_element(By.ID, "mode-completion").click()
    max_tokens = page.find_element(By.ID, "max_tokens")
    max_tokens.clear()
    max_tokens.send_keys("48")
    prompt = page.find_element(By.ID, "prompt")
    prompt.clear()
    prompt.send_keys("The quick brown fox")
    page.execute_script(COUNT_RENDERS)
    page.find_element(By.ID, "send").click()
    wait(page, lambda d: "completion" in d.find_element(By.ID, "stats").text
         and d.find_element(By.ID, "send").is_enabled())
    output = page.find_element(By.ID, "output").text
    assert output.startswith("The quick brown fox") and len(output) > len("The quick brown fox")
    assert page.execute_script("return window.renders") > 3  # text arrived piece by piece, not at once
    stats = page.find_element(By.ID, "stats").text
    assert "prompt" in stats and "tok" in stats
    assert page.find_element(By.ID, "error").text == ""
    out_dir = Path(os.environ.get("ROOTS_TEST_ARTIFACTS", tmp_path))
    out_dir.mkdir(parents=True, exist_ok=True)
    shot = out_dir / "playground_completion.png"
    assert page.save_screenshot(str(shot)) and shot.stat().st_size > 1000
    print(f"screenshot: {shot}")


def test_chat_turn(page):
    from selenium.webdriver.common.by import By

    page.find_element(By.ID, "mode-chat").click()
    prompt = page.find_element(By.ID, "prompt")
    prompt.clear()
    prompt.send_keys("Hello there")
    page.find_element(By.ID, "send").click()
    def transcript(d):
        return d.find_element(By.ID, "output").get_attribute("textContent")

    wait(page, lambda d: d.find_element(By.ID, "send").is_enabled() and "assistant:" in transcript(d))
    text = transcript(page)
    assert "user: Hello there" in text
    assert page.find_element(By.ID, "prompt").get_attribute("value") == ""  # chat clears the input
    assert page.find_element(By.ID, "error").text == ""
