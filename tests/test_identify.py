"""Binary logs are recognized by their bytes whatever their names; other binary files are
skipped with one warning, and text holding NUL runs is still read as text."""

from __future__ import annotations

import gzip
import shutil
from datetime import datetime, timezone
from pathlib import Path

import pytest

from scanner.errors import Problems
from scanner.model import FileStats
from scanner.normalize.identify import binary_format
from scanner.normalize.normalizer import normalize_file
from scanner.normalize.routes import load_routes, route_file
from scanner.normalize.utmp import LAYOUTS, encode_utmp
from scanner.sources.walk import walk

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
WHEN = datetime(2024, 2, 11, 9, 30, tzinfo=timezone.utc)


def _utmp(kind: str, byteorder: str, layout_index: int) -> bytes:
    layout = LAYOUTS[layout_index]
    record = {"type": kind, "pid": 4242, "tty": "ssh:notty" if kind == "LOGIN_PROCESS" else "pts/1",
              "user": "admin", "host": "203.0.113.45", "src_ip": "203.0.113.45", "time": WHEN}
    return b"".join(encode_utmp(record, byteorder, layout) for _ in range(3))


def _tree(tmp_path: Path, files: dict[str, bytes]) -> dict[str, str]:
    for name, data in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_bytes(data)
    routes = load_routes()
    return {f.source: route_file(f, routes).route.format for f in walk([tmp_path], Problems())}


def test_login_records_by_content_whatever_the_name(tmp_path: Path) -> None:
    formats = _tree(tmp_path, {
        "wtmp-a.LE": _utmp("USER_PROCESS", "little", 0),
        "wtmp-a.BE": _utmp("USER_PROCESS", "big", 0),
        "host1-btmp": _utmp("LOGIN_PROCESS", "little", 0),
        "arm/host2-btmp.BE": _utmp("LOGIN_PROCESS", "big", 1),
        "utmp": _utmp("USER_PROCESS", "little", 0),  # the name's format reads the same records
        "btmp.1": _utmp("LOGIN_PROCESS", "little", 1),
        "copy/lastlog.saved.gz": (FIXTURES / "binary/sshd.lastlog.gz").read_bytes(),
        "copy/wtmp.bin": (FIXTURES / "binary/sshd.wtmp").read_bytes(),
    })
    assert formats == {"wtmp-a.LE": "wtmp", "wtmp-a.BE": "wtmp", "host1-btmp": "btmp",
                       "arm/host2-btmp.BE": "btmp", "utmp": "utmp", "btmp.1": "btmp",
                       "copy/lastlog.saved.gz": "lastlog", "copy/wtmp.bin": "wtmp"}


def test_journal_by_signature(tmp_path: Path) -> None:
    data = gzip.decompress((FIXTURES / "journal/compact-zstd.journal.gz").read_bytes())
    formats = _tree(tmp_path, {"system@abc.journal": data, "machine/archive.bin": data,
                               "user-1000.journal~": data})
    assert set(formats.values()) == {"journal"}


def test_other_binary_is_skipped_with_one_warning(tmp_path: Path) -> None:
    formats = _tree(tmp_path, {"blob.bin": bytes(range(256)) * 64,
                               "auth.log": bytes(range(256)) * 64})
    assert formats == {"blob.bin": "binary", "auth.log": "binary"}
    routes = load_routes()
    for file in walk([tmp_path], Problems()):
        problems = Problems()
        stats = FileStats(file.source, "binary")
        events = list(normalize_file(file, route_file(file, routes), problems, stats))
        assert events == []
        assert [str(p) for p in problems] == [f"{file.source}: binary file of no format "
                                              "logsigma reads (not a log, or damaged): skipped"]


def test_text_with_nul_runs_stays_text(tmp_path: Path) -> None:
    """A log written past a crash or a truncation (copytruncate) starts or ends with NULs."""
    line = (b"2024-02-11T09:30:00.000000+00:00 vps sshd[811]: Connection closed by 192.0.2.7 "
            b"port 22\n")
    formats = _tree(tmp_path, {"auth.log": bytes(300_000) + line * 50,
                               "syslog": line * 50 + bytes(4096) + line})
    assert formats == {"auth.log": "syslog", "syslog": "syslog"}


def test_unreadable_or_empty_is_not_binary(tmp_path: Path) -> None:
    (tmp_path / "empty").write_bytes(b"")
    (file,) = walk([tmp_path], Problems())
    assert binary_format(file) is None


CORPUS_UTMP = FIXTURES.parent.parent / "shared/corpus/logs/util-linux/ts-utmp"


@pytest.mark.parametrize("name", ["wtmp-a.LE", "wtmp-a.BE", "wtmp-b.LE", "wtmp-ipv6.BE"])
def test_util_linux_test_files_are_login_records(name: str, tmp_path: Path) -> None:
    if not (CORPUS_UTMP / name).is_file():
        pytest.skip(f"util-linux test files not present at {CORPUS_UTMP} (team workspace only)")
    shutil.copy(CORPUS_UTMP / name, tmp_path / name)
    assert _tree(tmp_path, {}) == {name: "wtmp"}


def test_apt_term_log_is_raw_text_on_purpose(tmp_path: Path) -> None:
    """dpkg's terminal output (progress bars drawn with ESC sequences and CR) is text, read raw."""
    term = ("Log started: 2024-02-11  00:31:02\n"
            "Selecting previously unselected package hydra.\r\n"
            "\x1b7\x1b[0;23r\x1b8\x1b[1AProgress: [ 20%] [#########.....]\x1b8\n"
            "Setting up hydra (9.4-1) ...\n"
            "Log ended: 2024-02-11  00:31:09\n\n").encode()
    assert _tree(tmp_path, {"apt/term.log": term}) == {"apt/term.log": "raw"}


def test_getty_prompts_do_not_make_a_wtmp_btmp(tmp_path: Path) -> None:
    """agetty writes LOGIN_PROCESS records with user LOGIN to wtmp on every console prompt."""
    prompt = {"type": "LOGIN_PROCESS", "pid": 611, "tty": "tty1", "id": "tty1", "user": "LOGIN",
              "time": WHEN}
    login = {"type": "USER_PROCESS", "pid": 612, "tty": "tty1", "id": "tty1", "user": "root",
             "time": WHEN}
    data = b"".join(encode_utmp(r) for r in (prompt, prompt, prompt, login))
    assert _tree(tmp_path, {"console-wtmp.bin": data}) == {"console-wtmp.bin": "wtmp"}
