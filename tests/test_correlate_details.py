"""Correlation hits say who and what (scanner/correlate/details.py).

The tracker's incremental tallies equal :func:`window_details` over the same window's
hits (the one computation another engine calls), the top values are ordered and counted,
and the demo's "login accepted after failures" hit names the account in every format.
"""

from __future__ import annotations

import csv
import io
import json

import pytest

from conftest import FIXTURES
from scanner.cli import main
from scanner.correlate.details import TOP_VALUES, window_details
from scanner.correlate.windows import CONTRIBUTOR_CAP
from scanner.model import FieldValues
from test_correlate import FAIL, OK, RANDOM_SPECS, hit, random_stream, run, spec

DEMO = FIXTURES / "demo" / "var" / "log"
ACCEPTED_AFTER_FAILURES = "SSH Login Accepted After Failures From The Same Address"


@pytest.mark.parametrize("seed", range(3))
def test_tracker_details_equal_window_details_over_the_contributing_hits(seed: int) -> None:
    hits = random_stream(seed, 400)
    by_place = {(h.source, h.line): h for h in hits}
    out, _ = run(hits, RANDOM_SPECS)
    checked = 0
    for found in out:
        corr = found.correlation
        assert corr is not None
        if found.fields["events"] > 2 * CONTRIBUTOR_CAP:  # the listed contributors are capped
            continue
        window = [by_place[place] for place in corr.contributors]
        correlation = next(s for s in RANDOM_SPECS if s.rule.id == found.rule.id)
        assert (corr.closing, corr.values) == window_details(correlation, window)
        checked += 1
    assert checked > 20


def test_top_values_are_counted_ordered_and_capped() -> None:
    users = ["root", "root", "root", "admin", "admin", *(f"u{n}" for n in range(10))]
    hits = [hit(FAIL, n, src_ip="203.0.113.7", user=user) for n, user in enumerate(users)]
    hits.append(hit(OK, len(users), src_ip="203.0.113.7", user="webadmin", auth_method="password"))
    out, _ = run(hits, [spec("temporal_ordered", (FAIL, OK), timespan=600)])
    [found] = out
    assert found.correlation is not None
    assert found.correlation.closing == (("user", "webadmin"), ("auth_method", "password"))
    assert found.correlation.values == (FieldValues(
        "user", (("root", 3), ("admin", 2), ("u0", 1), ("u1", 1), ("u2", 1))[:TOP_VALUES], 13),)


def test_group_by_fields_are_not_repeated() -> None:
    hits = [hit(FAIL, n, src_ip="203.0.113.7", user="root") for n in range(5)]
    out, _ = run(hits, [spec("event_count", count=5, group_by=("src_ip", "user"))])
    [found] = out
    assert found.correlation is not None
    assert (found.correlation.closing, found.correlation.values) == ((), ())


def _demo(fmt: str, tmp_path) -> str:
    out = tmp_path / f"demo.{fmt}"
    assert main(["scan", "-q", "--jobs", "1", "-f", fmt, "-o", str(out), str(DEMO)]) == 0
    return out.read_text()


def test_the_account_that_got_in_is_named_in_every_format(tmp_path) -> None:
    [record] = [json.loads(line) for line in _demo("jsonl", tmp_path).splitlines()
                if ACCEPTED_AFTER_FAILURES in line]
    assert record["correlation"]["closing"] == {"user": "webadmin", "auth_method": "password"}
    assert record["correlation"]["values"] == {"user": {"top": [["webadmin", 31]], "distinct": 1}}
    document = json.loads(_demo("json", tmp_path))
    assert [h["correlation"]["closing"]["user"] for h in document["hits"]
            if h["rule_title"] == ACCEPTED_AFTER_FAILURES] == ["webadmin"]
    rows = [r for r in csv.DictReader(io.StringIO(_demo("csv", tmp_path)))
            if r["rule_title"] == ACCEPTED_AFTER_FAILURES]
    assert [r["user"] for r in rows] == ["webadmin"]
    assert json.loads(rows[0]["correlation"])["closing"]["user"] == "webadmin"
    [row] = [line for line in _demo("table", tmp_path).splitlines() if "Accepted After" in line]
    assert "src_ip=203.0.113.45" in row and "user=webadmin" in row
    spraying = [line for line in _demo("table", tmp_path).splitlines() if "Spraying" in line]
    assert spraying and all("value=12" in line for line in spraying)


def test_brute_force_lists_the_accounts_tried(tmp_path) -> None:
    hits = [json.loads(line) for line in _demo("jsonl", tmp_path).splitlines()]
    spray = [h for h in hits if h["rule_title"] == "SSH Password Spraying From One Address"]
    assert spray and spray[0]["correlation"]["values"]["user"]["distinct"] == 12
    assert len(spray[0]["correlation"]["values"]["user"]["top"]) == TOP_VALUES
    assert all(isinstance(h, dict) for h in hits)
