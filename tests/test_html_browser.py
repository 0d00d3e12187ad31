"""The HTML report in a real browser: headless Chromium driven by Selenium.

The demo tree's report shows the story of fixtures/demo/STORY.md, its timeline and every
hit, and its filters work without a server; hostile log text (script tags, event
handlers, javascript: URLs) renders as text, runs nothing and fetches nothing. No test
here lets a request leave the page: Chromium's performance log lists every request
the page made. The screenshot of the demo report is kept in ``$LOGSIGMA_ARTIFACTS`` (or
pytest's tmp directory) and its path printed. These tests skip only when Chromium or
chromedriver is not installed (Debian: ``apt-get install chromium chromium-driver``).
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Iterator

import pytest

from conftest import FIXTURES
from scanner.cli import main

DEMO = FIXTURES / "demo" / "var" / "log"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = shutil.which("chromedriver")
FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--window-size=1280,2000")

BROWSER_PAGES = ("chrome:", "chrome-untrusted:", "devtools:", "about:")

pytestmark = pytest.mark.skipif(
    not (CHROMIUM and CHROMEDRIVER),
    reason="Chromium or chromedriver not installed (Debian: apt-get install chromium chromium-driver)")


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[object]:
    """A headless Chromium with a fresh profile, logging every network request."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM  # type: ignore[assignment]
    for flag in FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={tmp_path_factory.mktemp('chromium-profile')}")
    options.set_capability("goog:loggingPrefs", {"performance": "ALL", "browser": "ALL"})
    driver = webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=options)
    try:
        yield driver
    finally:
        driver.quit()


def report(tree: Path, out: Path, *argv: str) -> Path:
    """Scan ``tree`` into an HTML report at ``out``."""
    assert main(["scan", "-q", "--jobs", "1", "-f", "html", "-o", str(out), *argv, str(tree)]) == 0
    return out


def open_report(driver, path: Path) -> list[str]:  # type: ignore[no-untyped-def]
    """Load ``path`` and return the URLs of every request the page made.

    The browser's own pages (its start tab loads ``chrome://resources``) may still log
    requests; only those of documents that are not the browser's are the page's, and no
    request at all may go to the network.
    """
    driver.get_log("performance")  # drop what earlier pages logged
    driver.get(path.resolve().as_uri())
    requests = []
    for entry in driver.get_log("performance"):
        message = json.loads(entry["message"])["message"]
        if message["method"] == "Network.requestWillBeSent":
            url, document = message["params"]["request"]["url"], message["params"].get("documentURL", "")
            assert not url.startswith(("http:", "https:", "ws:", "wss:", "ftp:")), url
            if not document.startswith(BROWSER_PAGES):
                requests.append(url)
    return requests


def visible_hits(driver) -> list[tuple[str, str]]:  # type: ignore[no-untyped-def]
    """(level, rule id) of the hit rows shown."""
    return [(row.get_attribute("data-level"), row.get_attribute("data-rule"))
            for row in driver.find_elements("css selector", "tr.hit") if row.is_displayed()]


def artifact_dir(tmp_path: Path) -> Path:
    """Where screenshots are kept: ``$LOGSIGMA_ARTIFACTS`` or the test's tmp directory."""
    directory = Path(os.environ.get("LOGSIGMA_ARTIFACTS") or tmp_path)
    directory.mkdir(parents=True, exist_ok=True)
    return directory


def test_demo_report_tells_the_story(browser, tmp_path: Path,  # type: ignore[no-untyped-def]
                                    capsys: pytest.CaptureFixture[str]) -> None:
    from selenium.webdriver.support.ui import Select

    page = report(DEMO, tmp_path / "report.html")
    assert main(["scan", "-q", "--jobs", "1", "-f", "jsonl", "-o", str(tmp_path / "hits.jsonl"),
                 str(DEMO)]) == 0
    hits = [json.loads(line) for line in (tmp_path / "hits.jsonl").read_text().splitlines()]
    requests = open_report(browser, page)
    assert requests == [page.resolve().as_uri()]  # the page itself, nothing else

    # the timeline: bars for every level that has dated hits, one mark per key moment
    bars = browser.find_elements("css selector", "#timeline-chart rect.bar")
    assert sum(int(bar.find_element("tag name", "title").get_attribute("textContent")
                   .split(": ")[1].split()[0]) for bar in bars) == sum(1 for h in hits if h["timestamp"])
    marks = browser.find_elements("css selector", "#timeline-chart g.mark")
    assert len(marks) == len(browser.find_elements("css selector", "#key-moments li")) >= 5

    # the story: brute force, the account that got in, privilege abuse, hydra, the wiped wtmp
    story = browser.find_element("id", "story").text
    actor = browser.find_element("css selector", '.actor.got-in[data-actor="203.0.113.45"]')
    assert "got in as webadmin" in actor.text and "First success: webadmin by password" in actor.text
    assert "SSH Brute Force From One Address" in actor.text and "failed login records" in actor.text
    for step in ("Su Authentication Failure", "Sudo Authentication Failure", "sysupdate",
                 "Second Account With UID 0", "systemd-net", "Offensive Tool Package Installed"):
        assert step in actor.text, step
    outbound = browser.find_element("id", "story-outbound").text
    assert "198.51.100.7" in outbound and "hydra" in outbound and "auth.log:73" in outbound
    tampering = browser.find_element("id", "story-tampering").text
    assert "Zeroed Or Truncated wtmp Record" in tampering and "wtmp:21" in tampering
    assert story.index("This server attacked other hosts") < story.index("From 203.0.113.45")

    # every hit is listed, and the summary counts them
    assert len(visible_hits(browser)) == len(hits) == int(browser.find_element("id", "shown-count").text)
    assert browser.find_element("id", "summary-hits").text.startswith(str(len(hits)))

    # filters: levels, then one rule, without a server
    for box in browser.find_elements("css selector", "input[data-filter-level]"):
        if box.get_attribute("data-filter-level") != "high":
            box.click()
    shown = visible_hits(browser)
    assert shown and {level for level, _ in shown} == {"high"}
    assert len(shown) == sum(1 for h in hits if h["level"] == "high")
    assert int(browser.find_element("id", "shown-count").text) == len(shown)
    for box in browser.find_elements("css selector", "input[data-filter-level]"):
        if not box.is_selected():
            box.click()
    brute = next(h["rule_id"] for h in hits if h["rule_title"] == "SSH Brute Force From One Address")
    Select(browser.find_element("id", "filter-rule")).select_by_value(brute)
    assert visible_hits(browser) == [("medium", brute)] * sum(1 for h in hits if h["rule_id"] == brute)

    shot = artifact_dir(tmp_path) / "demo-report.png"
    Select(browser.find_element("id", "filter-rule")).select_by_value("")
    browser.execute_script("window.scrollTo(0, 0)")
    assert browser.save_screenshot(str(shot))
    with capsys.disabled():  # shown in every run, not only a failing one
        print(f"\nscreenshot of the demo report: {shot}")
    assert shot.stat().st_size > 10_000


# nginx writes a double quote inside a logged field as \x22, so these use none
HOSTILE_UA = "sqlmap/1.7 <script>window.__xss='ua'</script>"
HOSTILE_URI = "/search?q='><img/src=x/onerror=window.__xss='uri'>"
HOSTILE_USER = "<svg/onload=window.__xss='user'>"


def hostile_tree(root: Path) -> Path:
    """A tree whose logs carry markup in a user agent, a URI, a referer and user names."""
    nginx = root / "nginx"
    nginx.mkdir(parents=True)
    lines = [f'203.0.113.66 - - [11/Feb/2024:10:00:{s:02d} +0000] "GET {HOSTILE_URI} HTTP/1.1" 404 162 '
             f'"javascript:window.__xss=\'referer\'" "{HOSTILE_UA}"' for s in range(3)]
    (nginx / "access.log").write_text("\n".join(lines) + "\n")
    auth = [f"Feb 11 10:01:{s:02d} vps sshd[{900 + s}]: Invalid user {HOSTILE_USER}{s} from 203.0.113.67 port {4000 + s}"
            for s in range(12)]
    auth += [f"Feb 11 10:02:{s:02d} vps sshd[{950 + s}]: Failed password for invalid user {HOSTILE_USER}{s} "
             f"from 203.0.113.67 port {4100 + s} ssh2" for s in range(12)]
    (root / "auth.log").write_text("\n".join(auth) + "\n")
    rule = root.parent / "every_request.yml"
    rule.write_text("title: Every Web Request\nid: 5b1b8a38-7a57-4f41-9c85-1c2b7d3f0a11\n"
                    "status: test\nlevel: high\nlogsource: {category: webserver}\n"
                    "detection: {selection: {cs-method: GET}, condition: selection}\n")
    return rule


def test_log_text_is_data_never_markup(browser, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from selenium.common.exceptions import NoAlertPresentException

    tree = tmp_path / "log"
    rule = hostile_tree(tree)
    page = report(tree, tmp_path / "hostile.html", "--rules", str(rule), "--year", "2024")
    requests = open_report(browser, page)
    assert requests == [page.resolve().as_uri()]
    assert browser.execute_script("return window.__xss === undefined")
    with pytest.raises(NoAlertPresentException):
        browser.switch_to.alert.text  # noqa: B018 - reading it is the check
    assert browser.find_elements("css selector", "img, svg[onload], iframe, object, embed") == []
    assert len(browser.find_elements("tag name", "script")) == 1
    links = [a.get_attribute("href") for a in browser.find_elements("css selector", "a[href]")]
    # in-page anchors, ATT&CK pages and the rules' own https references: never log text
    assert links and all(href.startswith((page.resolve().as_uri() + "#", "https://"))
                         and "xss" not in href for href in links), links
    text = browser.find_element("tag name", "body").text
    assert HOSTILE_UA in text and "onerror=" in text and "javascript:window.__xss='referer'" in text
    assert HOSTILE_URI in text
    # the user names tried, in the spraying correlation's closing event and top values
    assert f"user={HOSTILE_USER}11" in text and f"{HOSTILE_USER}0 ×2" in text
    # and in the contributing lines read back from auth.log (closed <details>: textContent)
    contributing = browser.execute_script(
        "return Array.from(document.querySelectorAll('pre.contributors'), e => e.textContent).join('\\n')")
    assert f"auth.log:1  Feb 11 10:01:00 vps sshd[900]: Invalid user {HOSTILE_USER}0 from 203.0.113.67" in contributing
