#!/usr/bin/python3
"""Loads kanmon's dashboard pages in headless Chromium (Debian's chromium + chromedriver,
through Selenium) and prints what a person would see, as JSON, for the Rust test to check:
every number marked with data-counter, the chart bars, the Bayes and store facts, and
every message the browser console logged (a CSP violation, a missing file or a script
error is one).

usage: browser.py BASE_URL SCREENSHOT [PASSWORD | --learn]
With PASSWORD the server asks for a login first: the script expects to be sent to
/login, signs in through the form and goes on. With --learn it opens /history, takes the
screenshot there, and presses the first row's "learn as spam" button instead.
"""
import json
import sys

from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions
from selenium.webdriver.support.ui import WebDriverWait

base, screenshot = sys.argv[1], sys.argv[2]
learn = len(sys.argv) > 3 and sys.argv[3] == "--learn"
password = sys.argv[3] if len(sys.argv) > 3 and not learn else None

options = webdriver.ChromeOptions()
options.binary_location = "/usr/bin/chromium"
for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
            "--window-size=1200,1400", "--no-first-run", "--disable-extensions"):
    options.add_argument(arg)
options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
driver = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)
out = {"console": [], "pages": {}}


def submit(button):
    """Clicks a form's button and returns the path the browser lands on. The click returns
    before the form's POST and its redirect are done, so this waits for the URL to change
    (the Rust test reports where the browser stayed if it does not)."""
    before = driver.current_url
    button.click()
    try:
        WebDriverWait(driver, 15).until(expected_conditions.url_changes(before))
    except Exception:
        pass
    return driver.current_url[len(base):]


try:
    if password is not None:
        driver.get(base + "/")
        out["redirected_to"] = driver.current_url[len(base):]
        driver.find_element(By.ID, "password").send_keys(password)
        out["after_login"] = submit(driver.find_element(By.ID, "sign-in"))
    if learn:
        driver.get(base + "/history")
        driver.save_screenshot(screenshot)
        out["after_learn"] = submit(
            driver.find_element(By.CSS_SELECTOR, "form.learn button[value=spam]"))
        out["learned"] = driver.find_element(By.ID, "learned").text
        out["console"].extend(
            {"page": "/history/learn", "level": e["level"], "message": e["message"]}
            for e in driver.get_log("browser"))
    for path in () if learn else ("/", "/history", "/bayes", "/store"):
        driver.get(base + path)
        page = {
            "title": driver.title,
            "h1": driver.find_element(By.TAG_NAME, "h1").text,
            "counters": [
                {"counter": e.get_attribute("data-counter"),
                 "window": e.get_attribute("data-window"),
                 "text": e.text}
                for e in driver.find_elements(By.CSS_SELECTOR, "[data-counter]")
            ],
            "ids": {e.get_attribute("id"): e.text
                    for e in driver.find_elements(By.CSS_SELECTOR, "dd[id], span[id], p[id]")},
            "stylesheet_applied": driver.execute_script(
                "return getComputedStyle(document.querySelector('header')).display"),
        }
        for chart in ("hourly", "daily"):
            bars = driver.find_elements(By.CSS_SELECTOR, "#%s rect.bar" % chart)
            if bars:
                page[chart] = [int(b.get_attribute("data-value")) for b in bars]
        out["pages"][path] = page
        if path == "/":
            driver.save_screenshot(screenshot)
        out["console"].extend(
            {"page": path, "level": e["level"], "message": e["message"]}
            for e in driver.get_log("browser"))
finally:
    driver.quit()
print(json.dumps(out))
