"""The HTML report's file, without a browser (tests/test_html_browser.py opens it in one).

One self-contained file: no resource is loaded from anywhere (no src, no CSS url(), no
@import), the Content-Security-Policy allows no network and only the inline script whose
hash it names; log text is escaped; the timeline picks hours or days by the span.
"""

from __future__ import annotations

import base64
import hashlib
import re
from datetime import datetime, timedelta, timezone
from pathlib import Path

from conftest import FIXTURES
from scanner.cli import main
from scanner.report.html import attack_url, web_link
from scanner.report.timeline import TimelineBuilder

DEMO = FIXTURES / "demo" / "var" / "log"


def demo_report(tmp_path: Path) -> str:
    out = tmp_path / "report.html"
    assert main(["scan", "-q", "--jobs", "1", "-f", "html", "-o", str(out), str(DEMO)]) == 0
    return out.read_text(encoding="utf-8")


def test_report_is_self_contained_and_its_policy_runs_only_its_script(tmp_path: Path) -> None:
    page = demo_report(tmp_path)
    policy = re.search(r'http-equiv="Content-Security-Policy" content="([^"]+)"', page)
    assert policy and "default-src 'none'" in policy.group(1)
    scripts = re.findall(r"<script>(.*?)</script>", page, re.S)
    assert len(scripts) == 1 and "<script " not in page
    digest = base64.b64encode(hashlib.sha256(scripts[0].encode()).digest()).decode()
    assert f"script-src 'sha256-{digest}'" in policy.group(1)
    assert not re.search(r"\ssrc=|url\(|@import|<link|<iframe|<img", page)
    hrefs = re.findall(r'href="([^"]*)"', page)
    assert hrefs and all(h.startswith(("#", "https://")) for h in hrefs)


def test_demo_report_holds_the_story(tmp_path: Path) -> None:
    page = demo_report(tmp_path)
    assert 'data-actor="203.0.113.45"' in page and 'class="account-name">webadmin<' in page
    assert '<code class="target">198.51.100.7</code>' in page
    assert 'id="story-tampering"' in page and "wtmp:21" in page
    out = tmp_path / "hits.jsonl"
    assert main(["scan", "-q", "--jobs", "1", "-f", "jsonl", "-o", str(out), str(DEMO)]) == 0
    assert page.count('<tr class="hit"') == len(out.read_text().splitlines()) > 20


def test_log_text_is_escaped(tmp_path: Path) -> None:
    tree = tmp_path / "log"
    (tree / "nginx").mkdir(parents=True)
    (tree / "nginx" / "access.log").write_text(
        "203.0.113.5 - - [11/Feb/2024:10:00:00 +0000] \"GET /<script>alert(1)</script> HTTP/1.1\" "
        "404 1 \"-\" \"Nikto <b onmouseover=alert(2)>\"\n")
    out = tmp_path / "hostile.html"
    assert main(["scan", "-q", "--jobs", "1", "-f", "html", "-o", str(out), str(tree)]) == 0
    page = out.read_text()
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "&lt;b onmouseover=alert(2)&gt;" in page
    assert "<script>alert" not in page and "<b onmouseover" not in page


def test_links_only_from_tags_and_web_references() -> None:
    assert attack_url("attack.t1110.001") == "https://attack.mitre.org/techniques/T1110/001/"
    assert attack_url("attack.T1046") == "https://attack.mitre.org/techniques/T1046/"
    assert attack_url("attack.credential-access") is None
    assert web_link("https://example.org/x") == "https://example.org/x"
    assert web_link("javascript:alert(1)") is None and web_link('https://x" onclick="y') is None


def test_timeline_counts_per_hour_or_per_day() -> None:
    start = datetime(2024, 2, 10, 22, 30, tzinfo=timezone.utc)
    hourly = TimelineBuilder()
    for minutes, level in ((0, "high"), (10, "low"), (95, "high")):
        hourly.add(start + timedelta(minutes=minutes), level)
    hourly.add(None, "high")
    chart = hourly.chart([(start + timedelta(minutes=95), "late")])
    assert chart is not None and chart.unit == "hour" and chart.undated == 1
    assert sorted((b.label, b.level, b.count) for b in chart.bars) == [
        ("2024-02-10 22:00", "high", 1), ("2024-02-10 22:00", "low", 1), ("2024-02-11 00:00", "high", 1)]
    assert [m.number for m in chart.marks] == [1] and 600 < chart.marks[0].x < 960
    daily = TimelineBuilder()
    daily.add(start, "medium")
    daily.add(start + timedelta(days=20), "medium")
    chart = daily.chart([])
    assert chart is not None and chart.unit == "day"
    assert [b.label for b in chart.bars] == ["2024-02-10", "2024-03-01"] and chart.peak == 1
    assert TimelineBuilder().chart([]) is None
