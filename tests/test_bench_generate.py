"""The benchmark generator and the demo trees: deterministic, laid out as Debian does, real formats.

Tiny sizes only. Every text line of every generated file must match the shape of the format
its path claims (a table of our own regexes, independent of the scanner's grammars), times must
run forward through each rotation chain, and binary login records must decode.
"""

from __future__ import annotations

import gzip
import re
import sys
from datetime import datetime
from fnmatch import fnmatch
from pathlib import Path
from typing import Callable

import pytest

from scanner.errors import Problems
from scanner.model import SourceFile
from scanner.normalize.utmp import SIZE, decode_utmp
from scanner.sources.journal import read_journal

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "bench"))  # bench/ holds scripts, not a package

import generate  # noqa: E402
import make_demo  # noqa: E402
import run  # noqa: E402

SYSLOG = (r"^(?P<ts>\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}\+00:00) [\w.-]+ "
          r"[\w.-]+(\[\d+\])?: .+$")
ACCESS = (r'^[\d.]+ - - \[(?P<ts>\d\d/\w{3}/\d{4}:\d\d:\d\d:\d\d \+0000)\] '
          r'"(GET|POST) \S+ HTTP/1\.1" \d{3} \d+ "[^"]*" "[^"]*"$')
DATE = r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d"
DPKG = (rf"^(?P<ts>{DATE}) (startup (archives|packages) (unpack|configure)|"
        r"install \S+ <none> \S+|upgrade \S+ \S+ \S+|configure \S+ \S+ <none>|"
        r"status (half-installed|unpacked|half-configured|installed) \S+ \S+)$")
APT = (r"^(|(Start|End)-Date: \d{4}-\d\d-\d\d  \d\d:\d\d:\d\d|Commandline: \S.*|"
       r"Requested-By: \S+ \(\d+\)|(Install|Upgrade): \S+ \(.+\))$")
ALTERNATIVES = (rf"^update-alternatives (?P<ts>{DATE}): (run with --install \S+ \S+ \S+ \d+|"
                r"link group \S+ updated to point to \S+)$")
POSTGRES = rf"^(?P<ts>{DATE})\.\d{{3}} UTC \[\d+\] (\S+@\S+ )?(LOG|FATAL|DETAIL):  \S.*$"
AUDIT = (r"^type=(SYSCALL|EXECVE|CWD|PATH|PROCTITLE) msg=audit\((?P<ts>\d+)\.\d{3}:\d+\): "
         r"\S.*$")
NGINX_ERROR = r"^(?P<ts>\d{4}/\d\d/\d\d \d\d:\d\d:\d\d) \[(error|notice)\] \d+#\d+: .+$"


def strp(fmt: str) -> Callable[[str], float]:
    """A parser of the "ts" group into seconds (naive times read as local: only order matters)."""
    return lambda text: datetime.strptime(text, fmt).timestamp()


RFC3339 = strp("%Y-%m-%dT%H:%M:%S.%f%z")
PLAIN = strp("%Y-%m-%d %H:%M:%S")
# (glob on the path relative to the tree, line shape, parser of the "ts" group or None)
FORMATS: list[tuple[str, str, Callable[[str], float] | None]] = [
    ("auth.log*", SYSLOG, RFC3339),
    ("syslog*", SYSLOG, RFC3339),
    ("kern.log*", SYSLOG, RFC3339),
    ("nginx/access.log*", ACCESS, strp("%d/%b/%Y:%H:%M:%S %z")),
    ("nginx/error.log*", NGINX_ERROR, strp("%Y/%m/%d %H:%M:%S")),
    ("dpkg.log*", DPKG, PLAIN),
    ("apt/history.log*", APT, None),
    ("alternatives.log*", ALTERNATIVES, PLAIN),
    ("postgresql/postgresql-15-main.log*", POSTGRES, PLAIN),
    ("audit/audit.log", AUDIT, float),
]
BINARY = ("wtmp", "btmp")


def read_lines(path: Path) -> list[str]:
    """The text lines of a (possibly gzip-compressed) log file."""
    data = gzip.decompress(path.read_bytes()) if path.suffix == ".gz" else path.read_bytes()
    return data.decode("utf-8").splitlines()


def chain_of(rel: str) -> tuple[str, int]:
    """``nginx/access.log.2.gz`` → (``nginx/access.log``, 2)."""
    match = re.fullmatch(r"(.+?)(?:\.(\d+))?(?:\.gz)?", rel)
    assert match
    return match.group(1), int(match.group(2) or 0)


def check_tree(root: Path) -> int:
    """Assert every file of ``root`` is in its claimed format and every chain runs forward."""
    files = sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file())
    chains: dict[str, list[tuple[int, float]]] = {}
    for rel in files:
        if rel in BINARY:
            data = (root / rel).read_bytes()
            assert len(data) % SIZE == 0, rel
            continue
        matches = [(shape, fmt) for glob, shape, fmt in FORMATS if fnmatch(rel, glob)]
        assert len(matches) == 1, f"{rel}: no single format claims it"
        shape, parse = matches[0]
        chain, index = chain_of(rel)
        for n, line in enumerate(read_lines(root / rel), 1):
            match = re.match(shape, line)
            assert match, f"{rel}:{n}: not {shape!r}: {line!r}"
            if parse and match.groupdict().get("ts"):
                chains.setdefault(chain, []).append((-index, parse(match["ts"])))
    for chain, stamps in chains.items():
        times = [t for _, t in sorted(stamps, key=lambda s: s[0])]
        assert times == sorted(times), f"{chain}: time goes backwards"
    return len(files)


@pytest.fixture(scope="module")
def tiny_tree(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[Path]]:
    """A 400 kB realistic tree, generated once for this module."""
    root = tmp_path_factory.mktemp("tree")
    return root, generate.generate(root, TINY, seed=3)


TINY = 400_000


def test_generate_is_deterministic_and_sized(tiny_tree: tuple[Path, list[Path]],
                                            tmp_path: Path) -> None:
    root, files = tiny_tree
    assert generate.generate(tmp_path, TINY, seed=3) == files
    for rel in files:
        assert (tmp_path / rel).read_bytes() == (root / rel).read_bytes(), rel
    text = sum(len("\n".join(read_lines(root / rel))) for rel in files if rel.name not in BINARY)
    assert 0.85 * TINY <= text <= TINY


def test_generate_layout_is_debian_rotation(tiny_tree: tuple[Path, list[Path]]) -> None:
    root, paths = tiny_tree
    files = {p.as_posix() for p in paths}
    for chain in ("auth.log", "syslog", "nginx/access.log"):
        assert {chain, f"{chain}.1", f"{chain}.2.gz"} <= files
    assert {"kern.log", "dpkg.log", "apt/history.log", "alternatives.log", "nginx/error.log",
            "postgresql/postgresql-15-main.log", "wtmp", "btmp"} <= files
    assert check_tree(root) == len(files)


@pytest.mark.parametrize("name, kinds", [
    ("wtmp", {"BOOT_TIME", "USER_PROCESS", "DEAD_PROCESS"}),
    ("btmp", {"LOGIN_PROCESS"}),
])
def test_generated_login_records_decode(tiny_tree: tuple[Path, list[Path]], name: str,
                                        kinds: set[str]) -> None:
    data = (tiny_tree[0] / name).read_bytes()
    records = [decode_utmp(data[i:i + SIZE]) for i in range(0, len(data), SIZE)]
    assert records and {r["type"] for r in records} == kinds
    assert all(r["time"].year == 2024 for r in records)


def test_worst_case_is_pure_brute_force(tmp_path: Path) -> None:
    assert generate.generate(tmp_path, 200_000, worst=True) == [Path("auth.log")]
    lines = read_lines(tmp_path / "auth.log")
    assert lines and all(re.search(r"sshd\[\d+\]: (Failed password for |pam_unix\(sshd:auth\): "
                                   r"authentication failure;)", line) for line in lines)
    assert check_tree(tmp_path) == 1


@pytest.mark.parametrize("text, size", [("1G", 1 << 30), ("100M", 100 << 20), ("64k", 64 << 10),
                                        ("12345", 12345), ("1.5MB", 3 << 19)])
def test_parse_size(text: str, size: int) -> None:
    assert generate.parse_size(text) == size


# --- the committed demo trees ---------------------------------------------------------------

FIXTURES = REPO / "fixtures"
ATTACKER = "203.0.113.45"
# detection kind → what every line marked with it must contain
MARKED_TEXT = {
    "ssh brute force": rf"(Failed password for \S+|authentication failure;.* rhost={ATTACKER}\b)",
    "ssh password spraying": rf"(Invalid user \S+ from {ATTACKER}|Failed password for|"
                             rf"rhost={ATTACKER}\b)",
    "ssh success after failures": rf"Accepted password for webadmin from {ATTACKER} ",
    "su failure": r" su\[\d+\]: (pam_unix\(su:auth\): authentication failure|"
                  r"FAILED SU \(to root\))",
    "sudo failure": r" sudo: .*(authentication failure|incorrect password attempt)",
    "new user": r" (useradd|groupadd)\[\d+\]: new (user|group): name=sysupdate, ",
    "sudo group add": r" usermod\[\d+\]: add 'sysupdate' to (shadow )?group 'sudo'",
    "uid-0 account": r'(new user: name=systemd-net, UID=0, |a0="useradd" a1="-o" a2="-u" a3="0")',
    "suspicious package": r"(install hydra:amd64 <none> 9\.4-1|Install: hydra:amd64)",
    "attack tool run": r"(COMMAND=/usr/bin/hydra .* 198\.51\.100\.7 http-post-form|a0=\"hydra\")",
    "web 404 burst, scanner user agent": r'" 404 \d+ "-" "[^"]*Nikto/',
    "scanner user agent": r'"(sqlmap/|WPScan v|masscan/|Mozilla/5\.0 zgrab/)[^"]*"$',
    "wp-login burst": r'^203\.0\.113\.99 .*"POST /(wp-login|xmlrpc)\.php HTTP/1\.1"',
    "path traversal probe": r"GET /download\.php\?file=\.\./\.\./\.\./etc/passwd ",
}


def story_marks() -> list[tuple[str, int, str]]:
    """(path, line, kind) of every line STORY.md says should fire."""
    text = (FIXTURES / "demo" / "STORY.md").read_text(encoding="utf-8")
    listing = text.split("## Every marked line", 1)[1].split("```")[1]
    rows = [re.fullmatch(r"(.+):(\d+)\t(.+)", row) for row in listing.strip().splitlines()]
    assert all(rows)
    return [(m[1], int(m[2]), m[3]) for m in rows if m]


def relative_files(base: Path, tree: str) -> list[str]:
    """The files under ``base/tree``, relative to ``base``."""
    return sorted(p.relative_to(base).as_posix() for p in (base / tree).rglob("*") if p.is_file())


def test_demo_and_quiet_fixtures_match_the_script(tmp_path: Path) -> None:
    make_demo.build(tmp_path)
    for tree in ("demo", "quiet"):
        built, committed = relative_files(tmp_path, tree), relative_files(FIXTURES, tree)
        if not (tmp_path / "demo" / "journal").exists():  # no systemd-journal-remote here
            committed = [rel for rel in committed if not rel.startswith("demo/journal/")]
        assert built == committed
        for rel in built:
            if rel.endswith(".journal"):  # new random file ids each build: compare the entries
                assert journal_content(tmp_path / rel) == journal_content(FIXTURES / rel), rel
            else:
                assert (tmp_path / rel).read_bytes() == (FIXTURES / rel).read_bytes(), \
                    f"{rel} is stale"


def journal_content(path: Path) -> list[tuple[int, int, str, tuple[tuple[str, bytes], ...]]]:
    """What a journal file holds besides its random ids: each entry's times, boot and fields."""
    problems = Problems()
    file = SourceFile(path=path, root=path.parent, source=path.name, size=path.stat().st_size,
                      mtime=0.0)
    entries = [(e.realtime, e.monotonic, e.boot_id, e.fields) for e in read_journal(file, problems)]
    assert not problems.items
    return entries


@pytest.mark.parametrize("tree", ["demo", "quiet"])
def test_demo_trees_are_real_formats_and_small(tree: str) -> None:
    root = FIXTURES / tree / "var" / "log"
    assert check_tree(root) >= 14
    # the journal is systemd's 8 MiB preallocation, nearly all zeros (about 85 KB in git)
    assert sum(p.stat().st_size for p in (FIXTURES / tree).rglob("*")
               if p.is_file() and p.suffix != ".journal") < 500_000


def test_story_marks_point_at_the_lines_that_should_fire() -> None:
    root = FIXTURES / "demo" / "var" / "log"
    marks = story_marks()
    kinds = {kind for _, _, kind in marks}
    assert kinds == set(MARKED_TEXT) | {"log tampering (zeroed wtmp record)"}
    for path, line, kind in marks:
        if path in BINARY:
            data = (root / path).read_bytes()[(line - 1) * SIZE:line * SIZE]
            if path == "btmp":
                record = decode_utmp(data)
                assert (record["type"], record["src_ip"]) == ("LOGIN_PROCESS", ATTACKER), line
            else:
                assert data == bytes(SIZE), f"wtmp record {line} is not zeroed"
        else:
            text = read_lines(root / path)[line - 1]
            assert re.search(MARKED_TEXT[kind], text), f"{path}:{line} [{kind}]: {text}"


def test_brute_force_spans_the_rotation_chain_and_btmp() -> None:
    paths = {path for path, _, kind in story_marks() if kind == "ssh brute force"}
    assert paths == {"auth.log.2.gz", "auth.log.1", "auth.log", "btmp"}


def test_quiet_tree_has_no_attack_traces() -> None:
    root = FIXTURES / "quiet" / "var" / "log"
    assert (root / "btmp").stat().st_size == 0
    traces = re.compile(r"203\.0\.113\.|Failed password|Invalid user|new (user|group):|"
                        r"incorrect password|FAILED SU|authentication failure|hydra|Nikto|sqlmap|"
                        r'WPScan|masscan|zgrab|" 404 |wp-login|xmlrpc|\.\./')
    for path in sorted(p for p in root.rglob("*") if p.is_file() and p.name not in BINARY):
        for n, line in enumerate(read_lines(path), 1):
            assert not traces.search(line), f"{path.relative_to(root)}:{n}: {line}"
    wtmp = (root / "wtmp").read_bytes()
    assert all(any(wtmp[i:i + SIZE]) for i in range(0, len(wtmp), SIZE))


EXPECTED_FORMATS = {"auth.log": "syslog", "syslog": "syslog", "kern.log": "syslog",
                    "nginx/access.log": "nginx_access", "nginx/error.log": "nginx_error",
                    "dpkg.log": "dpkg", "apt/history.log": "apt_history",
                    "audit/audit.log": "audit", "wtmp": "wtmp", "btmp": "btmp"}


@pytest.mark.parametrize("tree", ["demo", "quiet"])
def test_scanner_parses_every_demo_line(tree: str, capsys: pytest.CaptureFixture[str]) -> None:
    from scanner.cli import main

    root = FIXTURES / tree / "var" / "log"
    assert main(["events", "--coverage", str(root)]) == 0
    rows = re.findall(r"^(\S+): format=(\S+) lines=(\d+) parsed=\d+ unparsed=(\d+)",
                      capsys.readouterr().out, re.M)
    seen = {chain_of(path.removeprefix("log/"))[0]: fmt for path, fmt, _, _ in rows}
    assert seen == EXPECTED_FORMATS
    assert [(path, unparsed) for path, _, _, unparsed in rows if unparsed != "0"] == []


@pytest.mark.parametrize("code, ok, expected", [
    ("import sys; print('fine')", (0,), None),
    ("import sys; sys.stderr.write('one\\ntwo\\nboom\\n'); sys.exit(3)", (0, 1),
     "exit 3:\n    one\n    two\n    boom"),
    ("import time; time.sleep(30)", (0,), "timed out after 1 s"),
])
def test_benchmark_commands_report_failures(code: str, ok: tuple[int, ...],
                                            expected: str | None) -> None:
    outcome = run.run_once([sys.executable, "-c", code], ok, timeout=1)
    if expected is None:
        assert isinstance(outcome, tuple) and outcome[1] > 0
    else:
        assert outcome == expected
