"""Build real journal files with Debian's ``systemd-journal-remote`` and read them back with
``journalctl`` (for the demo tree, the tests and the benchmark: the scanner runs neither).

:func:`export_entry` writes an entry in systemd's journal export format; :func:`write_journal`
feeds it to ``systemd-journal-remote --output=FILE`` (no network) with the compact layout and
compression chosen by its environment and flags; :func:`journalctl_entries` is what
``journalctl --file F -o json`` says the file holds.
"""

from __future__ import annotations

import json
import os
import shutil
import struct
import subprocess
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

REMOTE = Path("/lib/systemd/systemd-journal-remote")
# journalctl's own fields and those every entry carries from its header, not from DATA objects
CURSOR_FIELDS = ("__CURSOR", "__REALTIME_TIMESTAMP", "__MONOTONIC_TIMESTAMP", "__SEQNUM",
                 "__SEQNUM_ID")


def have_tools() -> bool:
    """Whether both systemd tools are installed."""
    return REMOTE.is_file() and shutil.which("journalctl") is not None


Entry = Mapping[str, Any] | Sequence[tuple[str, Any]]


def export_entry(entry: Entry) -> bytes:
    """One entry (``__REALTIME_TIMESTAMP``, ``_BOOT_ID``… and fields; values str or bytes; a
    sequence of pairs may repeat a field) in the journal export format; a value holding a
    newline is written in its binary form."""
    out = bytearray()
    for name, value in entry.items() if isinstance(entry, Mapping) else entry:
        data = value.encode() if isinstance(value, str) else bytes(value)
        if b"\n" in data:
            out += name.encode() + b"\n" + struct.pack("<Q", len(data)) + data + b"\n"
        else:
            out += name.encode() + b"=" + data + b"\n"
    return bytes(out + b"\n")


def write_journal(entries: Iterable[Entry], path: Path, *, compact: bool,
                  compress: bool, keyed_hash: bool = True) -> Path:
    """``path`` written by systemd-journal-remote from ``entries``."""
    source = path.with_suffix(".export")
    with open(source, "wb") as out:
        for entry in entries:
            out.write(export_entry(entry))
    env = {**os.environ, "SYSTEMD_JOURNAL_COMPACT": str(int(compact)),
           "SYSTEMD_JOURNAL_KEYED_HASH": str(int(keyed_hash)), "SYSTEMD_LOG_LEVEL": "warning"}
    subprocess.run([str(REMOTE), f"--output={path}", f"--compress={'yes' if compress else 'no'}",
                    "--split-mode=none", str(source)], check=True, env=env, capture_output=True)
    source.unlink()
    return path


def journalctl_entries(path: Path) -> list[dict[str, Any]]:
    """``journalctl --file path -o json --all``, one dict per entry."""
    out = subprocess.run(["journalctl", "--file", str(path), "-o", "json", "--all",
                          "--no-pager"], check=True, capture_output=True).stdout
    return [json.loads(line) for line in out.splitlines() if line.strip()]
