"""Baseline fingerprints and scan option validation."""

from __future__ import annotations

import argparse
from datetime import datetime, timezone
from pathlib import Path

import pytest

from scanner.baseline import baseline_text, fingerprint, read_baseline
from scanner.cli import build_parser
from scanner.config import parse_time, scan_config
from scanner.errors import UsageError
from scanner.model import Hit, LogSource, RuleInfo

RULE = RuleInfo(id="r-1", title="t", level="high", status="test", tags=(),
                logsource=LogSource(product="linux"), path="x.yml")


def hit(source: str, **fields: object) -> Hit:
    return Hit(rule=RULE, timestamp=datetime(2024, 1, 1, tzinfo=timezone.utc), source=source,
               line=1, logsource=(), fields=fields, raw="")


def test_fingerprint_survives_rotation_and_volatile_fields() -> None:
    a = hit("auth.log", user="root", src_ip="192.0.2.1", pid="100", src_port="5000")
    b = hit("auth.log.2.gz", user="root", src_ip="192.0.2.1", pid="999", src_port="6000")
    c = hit("auth.log", user="admin", src_ip="192.0.2.1", pid="100")
    assert fingerprint(a) == fingerprint(b) != fingerprint(c)


def test_baseline_round_trip(tmp_path: Path) -> None:
    path = tmp_path / "baseline.json"
    path.write_text(baseline_text([hit("auth.log", user="root")]))
    assert read_baseline(path) == {fingerprint(hit("auth.log.1", user="root"))}
    path.write_text("[1, 2]")
    with pytest.raises(UsageError, match="not a logsigma baseline"):
        read_baseline(path)


def test_time_options() -> None:
    until = parse_time("--until", "2024-02-11", timezone.utc, end_of_day=True)
    assert until is not None and until.hour == 23 and until.tzinfo is timezone.utc
    with pytest.raises(UsageError, match="--since"):
        parse_time("--since", "yesterday", timezone.utc)


def _args(*argv: str) -> argparse.Namespace:
    return build_parser().parse_args(["scan", *argv])


def test_scan_config_rejects_bad_options(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="--rules"):
        scan_config(_args("--rules", str(tmp_path / "missing")))
    with pytest.raises(UsageError, match="--since is after --until"):
        scan_config(_args("--since", "2024-02-02", "--until", "2024-02-01"))
    with pytest.raises(UsageError, match="GLOB=FORMAT"):
        scan_config(_args("--format-for", "nonsense"))
    with pytest.raises(UsageError, match="no rules"):
        scan_config(_args("--no-builtin"))
    config = scan_config(_args(str(tmp_path), "--tag", "ATTACK.T1110", "--jobs", "1"))
    assert config.tags == {"attack.t1110"} and config.jobs == 1 and config.prefilter
