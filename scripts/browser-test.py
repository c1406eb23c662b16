#!/usr/bin/env python3
"""The web client in a real browser: Debian's chromium, headless, driven by
Selenium through Debian's chromedriver (nothing is downloaded), against a
running app whose catalogue the caller has filled.

    browser-test.py BASE_URL SCREENSHOT_DIR

Walks the flows a person takes (browse, search, sign up, a movie page,
rate, favourite, a missing movie, sign out, a wrong password, a phone-sized screen), saves a
screenshot of each, and prints one `browser: …` line with the figures.
Exits non-zero on the first step that does not do what a person would see.
"""

import os
import sys
import time

from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.common.exceptions import NoSuchElementException, StaleElementReferenceException
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support import expected_conditions as ec
from selenium.webdriver.support.ui import Select, WebDriverWait

BASE, SHOTS = sys.argv[1].rstrip("/"), sys.argv[2]
PASSWORD = "s3cret-pass"


def browser():
    options = webdriver.ChromeOptions()
    options.binary_location = os.environ.get("STREAMIA_CHROMIUM", "/usr/bin/chromium")
    for arg in ["--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1280,900"]:
        options.add_argument(arg)
    service = Service(os.environ.get("STREAMIA_CHROMEDRIVER", "/usr/bin/chromedriver"))
    return webdriver.Chrome(service=service, options=options)


driver = browser()
wait = WebDriverWait(driver, 10)
steps = []


def step(name):
    steps.append(name)
    print(f"  step: {name}", flush=True)


def shot(name):
    path = os.path.join(SHOTS, f"{name}.png")
    driver.save_screenshot(path)
    return path


def text_appears(text, css="body"):
    wait.until(ec.text_to_be_present_in_element((By.CSS_SELECTOR, css), text))


def cards():
    return driver.find_elements(By.CSS_SELECTOR, "ul.grid li")


def click(by, value):
    """Click what the page shows, again if it was re-rendered meanwhile."""
    def clicked(d):
        try:
            d.find_element(by, value).click()
            return True
        except (StaleElementReferenceException, NoSuchElementException):
            return False
    wait.until(clicked)


def fill(label_for, value):
    field = driver.find_element(By.ID, label_for)
    field.clear()
    field.send_keys(value)


try:
    os.makedirs(SHOTS, exist_ok=True)
    for old in os.listdir(SHOTS):
        os.remove(os.path.join(SHOTS, old))
    started = time.monotonic()

    step("the catalogue opens at /, with every movie")
    driver.get(BASE + "/")
    text_appears("Catalogue", "h1")
    wait.until(lambda d: len(cards()) == 3)
    assert "3 movies" in driver.find_element(By.TAG_NAME, "main").text
    shot("catalogue")

    step("search narrows the catalogue")
    fill("q", "Alien")
    driver.find_element(By.ID, "q").send_keys(Keys.ENTER)
    wait.until(lambda d: len(cards()) == 1)
    assert "Alien" in cards()[0].text

    step("a person creates an account with the keyboard and is signed in")
    click(By.LINK_TEXT, "Create account")
    text_appears("Create an account", "h1")
    fill("email", "ana@example.com")
    fill("username", "ana")
    fill("password", PASSWORD)
    driver.find_element(By.ID, "password").send_keys(Keys.ENTER)
    text_appears("Signed in as ana", "#account")

    step("a movie page: details, a placeholder without video, rating and favourite")
    driver.get(BASE + "/#/?search=Alien")
    click(By.PARTIAL_LINK_TEXT, "Alien")
    text_appears("Alien", "h1")
    text_appears("No video for this movie yet")
    Select(driver.find_element(By.ID, "score")).select_by_value("4")
    click(By.XPATH, "//button[text()='Rate']")
    text_appears("your rating is saved", "#notice")
    click(By.XPATH, "//button[text()='Add to favourites']")
    wait.until(ec.presence_of_element_located((By.XPATH, "//button[text()='Remove from favourites']")))
    driver.refresh()
    text_appears("from 1 rating")
    shot("movie")

    step("a movie that does not exist says so in plain words")
    driver.get(BASE + "/#/movies/00000000-0000-0000-0000-000000000000")
    text_appears("movie not found", "#notice")

    step("signing out, and a wrong password told plainly")
    click(By.XPATH, "//button[text()='Sign out']")
    click(By.LINK_TEXT, "Sign in")
    text_appears("Sign in", "h1")
    fill("email", "ana@example.com")
    fill("password", "not-the-password")
    click(By.XPATH, "//button[text()='Sign in']")
    wait.until(ec.visibility_of_element_located((By.ID, "notice")))
    message = driver.find_element(By.ID, "notice").text
    assert "password" in message.lower() or "credentials" in message.lower(), message
    assert "{" not in message, message
    shot("login-error")

    step("a phone-sized screen: the catalogue fits its width, posters two abreast")
    driver.set_window_size(390, 844)
    driver.get(BASE + "/")
    wait.until(lambda d: len(cards()) == 3)
    width = driver.execute_script("return window.innerWidth")
    rows = sorted({round(c.rect["y"]) for c in cards()})
    assert len(rows) == 2, rows
    assert all(c.rect["x"] + c.rect["width"] <= width for c in cards())
    assert driver.execute_script("return document.documentElement.scrollWidth <= window.innerWidth")
    shot("catalogue-phone")

    print(f"browser: {len(steps)} steps passed in {time.monotonic() - started:.1f} s "
          f"(chromium, headless); screenshots in {SHOTS}")
except Exception:
    shot("failure")
    print(f"browser: failed at step {len(steps)}: {steps[-1] if steps else '-'}", file=sys.stderr)
    print(driver.find_element(By.TAG_NAME, "body").text, file=sys.stderr)
    raise
finally:
    driver.quit()
