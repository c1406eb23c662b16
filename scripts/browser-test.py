#!/usr/bin/env python3
"""The web client in a real browser: Debian's chromium, headless, driven by
Selenium through Debian's chromedriver (nothing is downloaded), against a
running app whose catalogue the caller has filled.

    browser-test.py BASE_URL SCREENSHOT_DIR

Walks the flows people take: a viewer browses, searches, pages through a
long thread (the caller seeds it), signs up, rates,
keeps a favourite, comments (threads, edit, delete), renames herself, meets
a missing movie and a wrong password, resets her password through the
e-mailed link; an admin (STREAMIA_ADMIN_EMAIL) moderates, replies, adds a
movie with its poster, subtitles and a video uploaded straight to
Cloudinary with a progress bar, and makes her an administrator; then a
phone-sized screen. Saves
screenshots, prints one `browser: …` line with the figures, and exits
non-zero on the first step that does not do what a person would see. The
caller starts the app with Cloudinary (a fake of its API), comments
moderated before they show, and answers `browser-wants: reset-link` on
stdin with the link from the reset e-mail.
"""

import os
import struct
import sys
import tempfile
import time
import zlib

from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.common.exceptions import NoSuchElementException, StaleElementReferenceException
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support import expected_conditions as ec
from selenium.webdriver.support.ui import Select, WebDriverWait

BASE, SHOTS = sys.argv[1].rstrip("/"), sys.argv[2]
PASSWORD = "s3cret-pass"
ADMIN = os.environ.get("STREAMIA_ADMIN_EMAIL", "admin@example.com")


def browser():
    options = webdriver.ChromeOptions()
    options.binary_location = os.environ.get("STREAMIA_CHROMIUM", "/usr/bin/chromium")
    for arg in ["--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1280,900"]:
        options.add_argument(arg)
    # The console's messages, for the policy violations a page would log.
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    service = Service(os.environ.get("STREAMIA_CHROMEDRIVER", "/usr/bin/chromedriver"))
    return webdriver.Chrome(service=service, options=options)


driver = browser()
wait = WebDriverWait(driver, 10)
steps = []


def step(name):
    steps.append(name)
    print(f"  step: {name}", flush=True)


def shot(name, whole_page=False):
    """A screenshot of the window, or of the whole page from its top."""
    path = os.path.join(SHOTS, f"{name}.png")
    size = driver.get_window_size()
    if whole_page:
        height = driver.execute_script("return document.documentElement.scrollHeight")
        driver.set_window_size(size["width"], height + 100)
        driver.execute_script("window.scrollTo(0, 0)")
    driver.save_screenshot(path)
    driver.set_window_size(size["width"], size["height"])
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


def button(text):
    click(By.XPATH, f"//button[text()='{text}']")


def comment(text):
    """The comment whose words are `text`, as the page shows it now."""
    return driver.find_element(
        By.XPATH, f"//li[contains(@class,'comment')][p[contains(@class,'content')][text()='{text}']]")


def in_comment(text, what):
    """Click `what` (a button) on the comment `text`, again if it was re-rendered."""
    def clicked(d):
        try:
            comment(text).find_element(By.XPATH, f"./div[@class='actions']/button[text()='{what}']").click()
            return True
        except (StaleElementReferenceException, NoSuchElementException):
            return False
    wait.until(clicked)


def write_in(text, words, submit):
    """Type into the form that opened on the comment `text`, and send it."""
    box = comment(text).find_element(By.CSS_SELECTOR, "form textarea")
    box.clear()
    box.send_keys(words)
    comment(text).find_element(By.XPATH, f".//form//button[text()='{submit}']").click()


def confirm():
    wait.until(ec.alert_is_present())
    driver.switch_to.alert.accept()


def sign_in(email, password, name):
    driver.get(BASE + "/#/login")
    text_appears("Sign in", "h1")
    fill("email", email)
    fill("password", password)
    button("Sign in")
    text_appears(f"Signed in as {name}", "#account")


def sign_out():
    button("Sign out")
    text_appears("You are signed out", "#notice")


def media_files(folder):
    """A real 1×1 PNG poster, Spanish subtitles as SubRip, and 3 MiB of
    video (the fake Cloudinary takes any bytes), so the progress bar moves."""
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    png = (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0))
           + chunk(b"IDAT", zlib.compress(b"\x00\xb4\x23\x2c")) + chunk(b"IEND", b""))
    files = {
        "poster.png": png,
        "dune.es.srt": b"1\n00:00:01,000 --> 00:00:04,000\nEl durmiente debe despertar.\n",
        "dune.mp4": b"\x00\x00\x00\x18ftypmp42" + os.urandom(3 * 1024 * 1024),
    }
    for name, data in files.items():
        with open(os.path.join(folder, name), "wb") as f:
            f.write(data)
    return {name: os.path.join(folder, name) for name in files}


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

    step("a long thread opens twenty replies at a time")
    driver.get(BASE + "/#/?search=Heat")
    click(By.PARTIAL_LINK_TEXT, "Heat")
    text_appears("Who else watched it twice?", ".comments")
    in_comment("Who else watched it twice?", "Show 25 replies")
    thread = "//li[p[text()='Who else watched it twice?']]/ol[@class='thread']/li"
    wait.until(lambda d: len(d.find_elements(By.XPATH, thread)) == 20)
    button("Show 5 more replies")
    wait.until(lambda d: len(d.find_elements(By.XPATH, thread)) == 25)
    assert driver.find_elements(By.XPATH, thread)[-1].find_element(By.CSS_SELECTOR, "p.content").text == "Reply 25"
    assert not driver.find_elements(By.XPATH, "//button[contains(text(), 'more repl')]")

    step("a person creates an account with the keyboard and is signed in")
    click(By.LINK_TEXT, "Create account")
    text_appears("Create an account", "h1")
    fill("email", "ana@example.com")
    fill("username", "ana")
    fill("password", PASSWORD)
    driver.find_element(By.ID, "password").send_keys(Keys.ENTER)
    text_appears("Signed in as ana", "#account")

    step("a movie page: details, a placeholder without video, rating and favourite")
    # Her access token goes stale (as after 15 minutes): the page renews it
    # with the refresh token and the rating below goes through unnoticed.
    before = driver.execute_script("""
        const s = JSON.parse(localStorage.getItem("streamia.session"));
        const refresh = s.refreshToken;
        s.accessToken = "stale." + s.accessToken;
        localStorage.setItem("streamia.session", JSON.stringify(s));
        return refresh;""")
    driver.get(BASE + "/#/?search=Alien")
    click(By.PARTIAL_LINK_TEXT, "Alien")
    text_appears("Alien", "h1")
    text_appears("No video for this movie yet")
    Select(driver.find_element(By.ID, "score")).select_by_value("4")
    button("Rate")
    text_appears("your rating is saved", "#notice")
    after = driver.execute_script('return JSON.parse(localStorage.getItem("streamia.session"))')
    assert after["refreshToken"] != before and not after["accessToken"].startswith("stale."), "renewed"
    text_appears("from 1 rating", ".stats")
    button("Add to favourites")
    wait.until(ec.presence_of_element_located((By.XPATH, "//button[text()='Remove from favourites']")))
    driver.refresh()
    wait.until(lambda d: Select(d.find_element(By.ID, "score")).first_selected_option.text == "4 ★")

    step("comments: one posted waits for moderation, is edited; another is deleted")
    fill(driver.find_element(By.CSS_SELECTOR, ".comments textarea").get_attribute("id"), "A perfect organism.")
    button("Post comment")
    text_appears("once a moderator approves it", "#notice")
    wait.until(lambda d: "awaiting moderation" in comment("A perfect organism.").text)
    in_comment("A perfect organism.", "Edit")
    write_in("A perfect organism.", "A perfect organism, edited.", "Save")
    wait.until(lambda d: "edited" in comment("A perfect organism, edited.").text)
    fill(driver.find_element(By.CSS_SELECTOR, ".comments > form textarea").get_attribute("id"), "Spoilers ahead.")
    button("Post comment")
    in_comment("Spoilers ahead.", "Delete")
    confirm()
    text_appears("This comment was deleted.", ".comments")
    assert "Spoilers ahead." not in driver.find_element(By.CSS_SELECTOR, ".comments").text

    step("her favourites and her profile, with her ratings, where she renames herself")
    click(By.LINK_TEXT, "Favourites")
    text_appears("Your favourites", "h1")
    wait.until(lambda d: len(cards()) == 1 and "Alien" in cards()[0].text)
    click(By.LINK_TEXT, "Profile")
    text_appears("Your profile", "h1")
    rated = driver.find_element(By.CSS_SELECTOR, "section.ratings").text
    assert "Alien · 4 ★" in rated, rated
    fill("username", "ana_m")
    button("Save details")
    text_appears("Your details are saved", "#notice")
    text_appears("Signed in as ana_m", "#account")

    step("a movie that does not exist says so in plain words")
    driver.get(BASE + "/#/movies/00000000-0000-0000-0000-000000000000")
    text_appears("movie not found", "#notice")

    step("signing out, and a wrong password told plainly")
    sign_out()
    click(By.LINK_TEXT, "Sign in")
    text_appears("Sign in", "h1")
    fill("email", "ana@example.com")
    fill("password", "not-the-password")
    button("Sign in")
    wait.until(ec.visibility_of_element_located((By.ID, "notice")))
    message = driver.find_element(By.ID, "notice").text
    assert "password" in message.lower() or "credentials" in message.lower(), message
    assert "{" not in message, message
    shot("login-error")

    step("a forgotten password: the e-mailed link opens a page to choose a new one")
    click(By.LINK_TEXT, "Forgot your password?")
    fill("email", "ana@example.com")
    button("Send the link")
    text_appears("with a link to choose a new password", "#notice")
    print("browser-wants: reset-link", flush=True)
    link = sys.stdin.readline().strip()
    assert "/reset-password?token=" in link, link
    driver.get(link)
    text_appears("Choose a new password", "h1")
    fill("newPassword", "chosen-by-link")
    fill("repeat", "chosen-by-link")
    button("Change password")
    text_appears("Your password is changed", "#notice")
    text_appears("Sign in", "h1")
    sign_in("ana@example.com", "chosen-by-link", "ana_m")
    sign_out()

    step("the admin approves her comment in the moderation queue and replies to it")
    sign_in(ADMIN, PASSWORD, "admin")
    click(By.LINK_TEXT, "Moderation")
    text_appears("A perfect organism, edited.", "main")
    queued = comment("A perfect organism, edited.").text
    assert "Alien" in queued and "ana_m" in queued, queued
    click(By.XPATH, "//li[p[text()='A perfect organism, edited.']]//button[text()='Approve']")
    text_appears("Approved", "#notice")
    wait.until(lambda d: "A perfect organism" not in d.find_element(By.TAG_NAME, "main").text)
    driver.get(BASE + "/#/?search=Alien")
    click(By.PARTIAL_LINK_TEXT, "Alien")
    text_appears("A perfect organism, edited.", ".comments")
    assert "ana_m" in comment("A perfect organism, edited.").text, "her name beside her comment"
    in_comment("A perfect organism, edited.", "Reply")
    write_in("A perfect organism, edited.", "Welcome aboard.", "Post reply")
    wait.until(lambda d: "Welcome aboard." in comment("A perfect organism, edited.").find_element(By.CSS_SELECTOR, "ol.thread").text)
    shot("movie", whole_page=True)

    step("the admin adds a movie; a wrong year is told in plain words")
    files = media_files(tempfile.mkdtemp())
    click(By.LINK_TEXT, "Manage catalogue")
    text_appears("Manage the catalogue", "h1")
    click(By.LINK_TEXT, "Add a movie")
    text_appears("Add a movie", "h1")
    fill("title", "Dune")
    fill("description", "A noble family is given a desert planet.")
    fill("releaseYear", "next year")
    fill("genres", "Sci-Fi, Adventure")
    fill("director", "Denis Villeneuve")
    fill("cast", "Timothée Chalamet, Zendaya")
    button("Add to the catalogue")
    text_appears("releaseYear", "#notice")
    assert "{" not in driver.find_element(By.ID, "notice").text
    fill("releaseYear", "2021")
    button("Add to the catalogue")
    text_appears("Edit Dune", "h1")
    text_appears("The movie is in the catalogue", "#notice")

    step("its poster and subtitles upload through the API, its video straight to Cloudinary; a track is removed")
    driver.find_element(By.ID, "poster-file").send_keys(files["poster.png"])
    button("Upload poster")
    text_appears("The poster is uploaded", "#notice")
    img = wait.until(ec.presence_of_element_located((By.CSS_SELECTOR, "form.media img.poster")))
    assert img.get_attribute("src").startswith("https://res.cloudinary.com/"), img.get_attribute("src")
    fill("subtitle-language", "es")
    driver.find_element(By.ID, "subtitle-file").send_keys(files["dune.es.srt"])
    button("Upload subtitles")
    text_appears("The es subtitles are uploaded", "#notice")
    wait.until(ec.presence_of_element_located((By.XPATH, "//ul[@class='subtitles']/li/a[text()='es']")))
    driver.find_element(By.ID, "video-file").send_keys(files["dune.mp4"])
    button("Upload video")
    WebDriverWait(driver, 60).until(ec.text_to_be_present_in_element((By.ID, "video-status"), "The video is ready"))
    bar = driver.find_element(By.ID, "video-progress")
    assert float(bar.get_attribute("max")) >= 3 * 1024 * 1024, bar.get_attribute("max")
    assert bar.get_attribute("value") == bar.get_attribute("max"), (bar.get_attribute("value"), bar.get_attribute("max"))
    shot("admin-movie", whole_page=True)
    click(By.LINK_TEXT, "See its page")
    text_appears("Dune", "h1")
    video = wait.until(ec.presence_of_element_located((By.TAG_NAME, "video")))
    assert video.get_attribute("src").startswith("https://res.cloudinary.com/"), video.get_attribute("src")
    track = video.find_element(By.TAG_NAME, "track")
    assert track.get_attribute("srclang") == "es" and track.get_attribute("src").endswith("/es.vtt"), track.get_attribute("src")
    driver.back()
    text_appears("Edit Dune", "h1")
    button("Remove es")
    confirm()
    text_appears("Removed the es subtitles", "#notice")
    wait.until(lambda d: not d.find_elements(By.XPATH, "//ul[@class='subtitles']"))

    step("on the Members page the admin suspends her, reactivates her, makes her an administrator; the last one cannot step down")
    click(By.LINK_TEXT, "Members")
    text_appears("Members", "h1")
    text_appears("2 accounts", "main")
    click(By.XPATH, "//button[@aria-label='Suspend ana_m']")
    text_appears("ana_m is suspended", "#notice")
    text_appears("suspended", "tbody")
    click(By.XPATH, "//button[@aria-label='Reactivate ana_m']")
    text_appears("ana_m can sign in again", "#notice")
    wait.until(ec.presence_of_element_located((By.XPATH, "//button[@aria-label='Suspend ana_m']")))
    click(By.XPATH, "//button[@aria-label='Make admin a member']")
    text_appears("the last admin cannot be demoted", "#notice")
    click(By.XPATH, "//button[@aria-label='Make ana_m an administrator']")
    text_appears("ana_m is an administrator now", "#notice")
    wait.until(ec.presence_of_element_located((By.XPATH, "//button[@aria-label='Make ana_m a member']")))
    shot("members")

    step("a phone-sized screen: the catalogue fits its width, posters two abreast, sized by Cloudinary")
    driver.set_window_size(390, 844)
    driver.get(BASE + "/")
    wait.until(lambda d: len(cards()) == 4)
    width = driver.execute_script("return window.innerWidth")
    rows = sorted({round(c.rect["y"]) for c in cards()})
    assert len(rows) == 2, rows
    assert all(c.rect["x"] + c.rect["width"] <= width for c in cards())
    assert driver.execute_script("return document.documentElement.scrollWidth <= window.innerWidth")
    # Dune's poster (the only one) is asked at card sizes, not the original.
    dune = driver.find_element(By.CSS_SELECTOR, "ul.grid img.poster")
    src, srcset = dune.get_attribute("src"), dune.get_attribute("srcset")
    assert "/image/upload/c_fill,w_400,h_600/f_auto/q_auto/v1/" in src, src
    assert srcset.count("/image/upload/c_fill,w_") == 3 and srcset.endswith(" 800w"), srcset
    shot("catalogue-phone")

    step("the API docs page shows the contract's operations, under its strict policy")
    driver.set_window_size(1280, 900)
    driver.get_log("browser")
    driver.get(BASE + "/docs")
    wait.until(lambda d: any(e.text == "/api/movies/{id}/poster"
                             for e in d.find_elements(By.CSS_SELECTOR, ".opblock-summary-path")))
    paths = {e.text for e in driver.find_elements(By.CSS_SELECTOR, ".opblock-summary-path")}
    assert {"/api/users/{id}/suspend", "/api/movies"} <= paths, sorted(paths)[:10]
    violations = [m["message"] for m in driver.get_log("browser") if "Content Security Policy" in m["message"]]
    assert not violations, violations
    shot("docs")

    print(f"browser: {len(steps)} steps passed in {time.monotonic() - started:.1f} s "
          f"(chromium, headless); screenshots in {SHOTS}")
except Exception:
    shot("failure")
    print(f"browser: failed at step {len(steps)}: {steps[-1] if steps else '-'}", file=sys.stderr)
    print(driver.find_element(By.TAG_NAME, "body").text, file=sys.stderr)
    raise
finally:
    driver.quit()
