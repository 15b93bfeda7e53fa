#!/usr/bin/env python3
"""End-to-end test of `stackgan serve` in headless Chromium (Debian's chromium + chromium-driver,
Selenium from PyPI: scripts/install_browser_test.sh).

Types two captions, clicks Generate, waits for the images, checks each is a PNG of the model's
size, checks the URL carries the captions and seed and that opening it again draws the same
images, walks the GAN-INT slider, and saves a screenshot. Exits 0 and prints "e2e_serve: ok ..." on success; otherwise prints why and exits 1.
Run by Tests/StackGANCLITests/ServeEndToEndTests.swift against a server on 127.0.0.1.

    .venv-e2e/bin/python scripts/e2e_serve.py --url http://127.0.0.1:8080/ --size 64 --screenshot docs/images/serve.png
"""
import argparse
import base64
import struct
import sys
import urllib.parse

from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

CAPTIONS = ["a big red star on a black background", "a small blue circle"]
SAMPLES = 4
SEED = 7


def png_size(data_url):
    """(width, height) of a data:image/png;base64 URL, from the PNG signature and IHDR chunk."""
    prefix = "data:image/png;base64,"
    if not data_url.startswith(prefix):
        raise AssertionError(f"image src is not a PNG data URL: {data_url[:40]}")
    data = base64.b64decode(data_url[len(prefix):])
    if data[:8] != b"\x89PNG\r\n\x1a\n" or data[12:16] != b"IHDR":
        raise AssertionError("image bytes are not a PNG")
    return struct.unpack(">II", data[16:24])


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--url", required=True)
    parser.add_argument("--size", type=int, required=True, help="the model's image size")
    parser.add_argument("--screenshot", required=True)
    parser.add_argument("--chromium", default="/usr/bin/chromium")
    parser.add_argument("--driver", default="/usr/bin/chromedriver")
    parser.add_argument("--timeout", type=float, default=60)
    args = parser.parse_args()

    options = webdriver.ChromeOptions()
    options.binary_location = args.chromium
    for flag in ["--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu", "--window-size=1180,820"]:
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(executable_path=args.driver), options=options)
    try:
        driver.set_page_load_timeout(args.timeout)
        driver.get(args.url)
        wait = WebDriverWait(driver, args.timeout)
        wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, ".caption-text"))
        first = driver.find_element(By.CSS_SELECTOR, ".caption-text")
        first.clear()
        first.send_keys(CAPTIONS[0])
        driver.find_element(By.ID, "add").click()
        driver.find_elements(By.CSS_SELECTOR, ".caption-text")[1].send_keys(CAPTIONS[1])
        for field, value in [("samples", SAMPLES), ("seed", SEED)]:
            box = driver.find_element(By.ID, field)
            box.clear()
            box.send_keys(str(value))
        driver.find_element(By.ID, "generate").click()

        expected = len(CAPTIONS) * SAMPLES
        loaded = "return [...document.querySelectorAll('img.result-image')].filter(i => i.complete && i.naturalWidth > 0).length"
        wait.until(lambda d: d.execute_script(loaded) == expected and d.find_element(By.ID, "generate").is_enabled())
        status = driver.find_element(By.ID, "status")
        if "error" in (status.get_attribute("class") or ""):
            raise AssertionError(f"the page shows an error: {status.text}")
        images = driver.find_elements(By.CSS_SELECTOR, "img.result-image")
        for image in images:
            size = png_size(image.get_attribute("src"))
            if size != (args.size, args.size):
                raise AssertionError(f"an image is {size[0]}x{size[1]}; the model makes {args.size}x{args.size}")
        links = driver.find_elements(By.CSS_SELECTOR, ".images a[download]")
        if len(links) != expected:
            raise AssertionError(f"{len(links)} download links for {expected} images")

        query = urllib.parse.parse_qs(urllib.parse.urlparse(driver.current_url).query)
        if query.get("caption") != CAPTIONS or query.get("seed") != [str(SEED)] or query.get("samples") != [str(SAMPLES)]:
            raise AssertionError(f"the URL does not hold the captions and seed: {driver.current_url}")

        # The URL is the share link: opened afresh, it fills the form and draws the same images.
        first_pngs = [image.get_attribute("src") for image in images]
        driver.get(driver.current_url)
        wait.until(lambda d: d.execute_script(loaded) == expected and d.find_element(By.ID, "generate").is_enabled())
        again = [image.get_attribute("src") for image in driver.find_elements(By.CSS_SELECTOR, "img.result-image")]
        if again != first_pngs:
            raise AssertionError("opening the shared URL drew different images")

        driver.find_element(By.ID, "walk-button").click()
        wait.until(lambda d: d.find_element(By.ID, "walk").is_displayed() and d.find_element(By.ID, "walk-button").is_enabled())
        start = driver.find_element(By.ID, "walk-image").get_attribute("src")
        move = "const s = document.getElementById('walk-slider'); s.value = %s; s.dispatchEvent(new Event('input'));"
        driver.execute_script(move % "s.max")
        end = driver.find_element(By.ID, "walk-image").get_attribute("src")
        driver.execute_script(move % "Math.floor(s.max / 2)")  # the screenshot shows a point between
        middle = driver.find_element(By.ID, "walk-image").get_attribute("src")
        if png_size(start) != (args.size, args.size) or len({start, middle, end}) != 3:
            raise AssertionError("the GAN-INT slider does not change the image")

        driver.save_screenshot(args.screenshot)
        print(f"e2e_serve: ok: {len(images)} PNGs of {args.size}x{args.size}, the shared URL reproduces them, walk slider works, screenshot {args.screenshot}")
    except Exception as error:  # one line saying why, for the XCTest that runs this
        print(f"e2e_serve: FAILED: {type(error).__name__}: {error}", file=sys.stderr)
        try:
            driver.save_screenshot(args.screenshot + ".failed.png")
        except Exception:
            pass
        return 1
    finally:
        driver.quit()
    return 0


if __name__ == "__main__":
    sys.exit(main())
