"""The server's try-it page in a real headless Chromium (Debian's chromium + chromium-driver): pick an
image, see the texts listed and drawn; the screenshot is read back by the SDK's own OCR."""
from __future__ import annotations

import os
import shutil
from pathlib import Path

import cv2
import numpy as np
import pytest

pytest.importorskip("starlette", reason="the server's web stack is installed with the serve extra (leg 1)")
webdriver = pytest.importorskip("selenium.webdriver", reason="selenium is installed with the dev extra")

from converters.check_pages import sample_page  # noqa: E402
from edge_sdk import create_pipeline  # noqa: E402
from edge_sdk.serve import create_app  # noqa: E402
from serving import running  # noqa: E402

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
DRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"
if not (os.path.exists(CHROMIUM) and os.path.exists(DRIVER)):
    if os.environ.get("EDGE_SDK_REQUIRE_CHROMIUM"):
        raise RuntimeError("EDGE_SDK_REQUIRE_CHROMIUM is set but Debian's chromium/chromium-driver are missing "
                           "(apt-get install chromium chromium-driver; scripts/setup.sh does it as root).")
    pytest.skip("Debian's chromium and chromium-driver are not installed (scripts/setup.sh installs them as root)",
                allow_module_level=True)

from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402


@pytest.fixture(scope="module")
def ocr():  # type: ignore[no-untyped-def]
    return create_pipeline("OCR", threads=2)


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    opts = webdriver.ChromeOptions()
    opts.binary_location = CHROMIUM
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--disable-quic", "--window-size=1400,1000",
                 # this machine has no camera: Chromium's own test camera (a moving pattern), allowed without a prompt
                 "--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream",
                 f"--user-data-dir={tmp_path_factory.mktemp('chromium-profile')}"):
        opts.add_argument(flag)
    driver = webdriver.Chrome(options=opts, service=webdriver.ChromeService(executable_path=DRIVER))
    yield driver
    driver.quit()


def test_page_reads_a_picked_image_and_the_screenshot_shows_the_texts(ocr, browser, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    page, _ = sample_page(0)
    image = tmp_path / "page.png"
    cv2.imwrite(str(image), page)
    want = next(ocr.predict(page))["rec_texts"]
    with running(create_app(ocr.rec, ocr)) as port:
        browser.get(f"http://127.0.0.1:{port}/")
        WebDriverWait(browser, 30).until(lambda d: "det " in d.find_element(By.ID, "models").text)
        browser.find_element(By.ID, "file").send_keys(str(image))
        WebDriverWait(browser, 60).until(lambda d: len(d.find_elements(By.CSS_SELECTOR, "#texts li")) == len(want))
        listed = browser.execute_script(
            "return [...document.querySelectorAll('#texts li')].map((li) => li.firstChild.textContent);")
        assert "lines in" in browser.find_element(By.ID, "status").text
        canvas = browser.execute_script("const c = document.getElementById('canvas'); return [c.width, c.height];")
        shot = tmp_path / "page_screenshot.png"
        browser.save_screenshot(str(shot))
        # a file that is not an image: one sentence on the page, no crash
        bad = tmp_path / "notes.png"
        bad.write_bytes(b"not an image")
        browser.find_element(By.ID, "file").send_keys(str(bad))
        WebDriverWait(browser, 30).until(lambda d: "could not read" in d.find_element(By.ID, "status").text)
    assert listed == want
    assert canvas == [900, 700]
    # the screenshot, read by the SDK: the page shows the recognized texts (the list beside the picture)
    seen = " ".join(next(ocr.predict(str(shot)))["rec_texts"]).replace(" ", "")
    found = [t for t in want if t.strip() and t.replace(" ", "") in seen]
    assert len(found) >= 0.8 * len(want), (want, seen)
    img = cv2.imread(str(shot))
    assert img.shape[1] == 1400 and np.count_nonzero(img.std(axis=2) > 0) > 0


def test_page_reads_a_camera_frame(ocr, browser) -> None:  # type: ignore[no-untyped-def]
    """The camera path on Chromium's fake camera (no camera here): start it, read a frame, get an answer."""
    with running(create_app(ocr.rec, ocr)) as port:
        browser.get(f"http://127.0.0.1:{port}/")
        WebDriverWait(browser, 30).until(lambda d: "det " in d.find_element(By.ID, "models").text)
        browser.find_element(By.ID, "camera").click()
        WebDriverWait(browser, 30).until(lambda d: d.find_element(By.ID, "snap").is_displayed()
                                         and d.execute_script("return document.getElementById('video').videoWidth") > 0)
        browser.find_element(By.ID, "snap").click()
        WebDriverWait(browser, 60).until(lambda d: " in " in d.find_element(By.ID, "status").text
                                         or "error" in d.find_element(By.ID, "status").get_attribute("class"))
        status = browser.find_element(By.ID, "status")
        assert status.get_attribute("class") != "error", status.text
        assert status.text.endswith(" ms") and "line" in status.text
        size = browser.execute_script("const c = document.getElementById('canvas'); return [c.width, c.height];")
        video = browser.execute_script("const v = document.getElementById('video'); return [v.videoWidth, v.videoHeight];")
        assert size == video and size[0] > 0
