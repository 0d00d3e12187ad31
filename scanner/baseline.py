"""Baselines: remember today's hits so CI fails only on new findings.

A fingerprint is a SHA-256 over the rule id, the file's rotation chain name
(``auth.log`` for ``auth.log.2.gz``, since rotation renames files) and the hit's
fields without the volatile parts (process ids, ports, session numbers). The
timestamp is left out too: the same finding a day later is still the same
finding. A baseline file is JSON: ``{"version": 1, "fingerprints": [...]}``.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Iterable

from scanner.errors import Location, UsageError
from scanner.model import Hit
from scanner.normalize.routes import strip_rotation

VOLATILE_FIELDS = frozenset({"pid", "tid", "src_port", "session", "session_id", "serial",
                             "msg", "time", "timestamp"})
def fingerprint(hit: Hit) -> str:
    """The stable identity of a hit across scans and log rotations."""
    if hit.correlation:
        stable: object = sorted((k, str(v)) for k, v in hit.correlation.group)
    else:
        stable = sorted((k, str(v)) for k, v in hit.fields.items() if k not in VOLATILE_FIELDS)
    payload = json.dumps([hit.rule.id, strip_rotation(hit.source), stable], sort_keys=True)
    return hashlib.sha256(payload.encode("utf-8", "backslashreplace")).hexdigest()


def read_baseline(path: Path) -> frozenset[str]:
    """The fingerprints recorded in a baseline file.

    Raises:
        UsageError: the file is unreadable or not a logsigma baseline.
    """
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        prints = data["fingerprints"]
        if not isinstance(prints, list):
            raise TypeError
        return frozenset(str(p) for p in prints)
    except (OSError, ValueError, KeyError, TypeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) else "not a logsigma baseline file"
        raise UsageError(f"--baseline: {reason}", Location(str(path))) from None


def baseline_text(hits: Iterable[Hit]) -> str:
    """The JSON text of a baseline recording ``hits``."""
    prints = sorted({fingerprint(h) for h in hits})
    return json.dumps({"version": 1, "fingerprints": prints}, indent=1) + "\n"
