"""Walking copied log trees: what is listed, what is refused, rotation chains, and no writes."""

from __future__ import annotations

import gzip
import io
import json
import os
import socket
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest

from conftest import unprivileged_prefix
from scanner.errors import Problems
from scanner.sources.open import iter_lines
from scanner.sources.walk import rotation_chains, walk


def tar_bytes(compress: bool) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz" if compress else "w") as tar:
        info = tarfile.TarInfo("syslog")
        info.size = 4
        tar.addfile(info, io.BytesIO(b"log\n"))
    return buffer.getvalue()


def zip_bytes() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("syslog", "log\n")
    return buffer.getvalue()


@pytest.fixture()
def tree(tmp_path: Path) -> Path:
    """A copied /var/log with rotations, oddities and hostile entries."""
    root = tmp_path / "log"
    (root / "nginx").mkdir(parents=True)
    files = {
        "auth.log": b"live\n", "auth.log.1": b"one\n", "auth.log.2.gz": gzip.compress(b"two\n"),
        "auth.log.10.gz": gzip.compress(b"ten\n"),
        "syslog-20240102": b"newer\n", "syslog-20231231.gz": gzip.compress(b"older\n"),
        "nginx/access.log": b"a\n", "nginx/access.log.1": b"b\n",
        "empty.log": b"", "packed_no_suffix": gzip.compress(b"hidden\n"),
        "syslog.tar": tar_bytes(False), "syslog.tgz": tar_bytes(True), "syslog.zip": zip_bytes(),
        "journal.zst": b"\x28\xb5\x2f\xfd" + bytes(16),
    }
    for name, content in files.items():
        (root / name).write_bytes(content)
    os.mkfifo(root / "fifo")
    (root / "loop").symlink_to(".")  # a directory loop inside the tree
    (root / "self").symlink_to("self")  # a symlink to itself
    (root / "escape").symlink_to(tmp_path)  # out of the tree
    (root / "dangling").symlink_to("missing")
    (root / "auth.alias").symlink_to("auth.log")  # inside the tree: listed once, as auth.log
    os.link(root / "auth.log.1", root / "hardlink")
    return root


EXPECTED_SOURCES = ["auth.log", "auth.log.1", "auth.log.10.gz", "auth.log.2.gz", "empty.log",
                    "nginx/access.log", "nginx/access.log.1", "packed_no_suffix",
                    "syslog-20231231.gz", "syslog-20240102"]
EXPECTED_PROBLEMS = [
    "dangling: symlink not followed: No such file or directory",
    "escape: symlink leads out of the scanned tree (to {tmp}): not followed",
    "fifo: FIFO skipped: not a regular file",
    "journal.zst: zst-compressed: no decoder in this Python, skipped",
    "loop: symlink loop (to its own ancestor {tmp}/log): not followed",
    "self: symlink not followed: Too many levels of symbolic links",
    "syslog.tar: tar archive, not a log: skipped",
    "syslog.tgz: tar archive, not a log: skipped",
    "syslog.zip: zip archive, not a log: skipped",
]


def test_walk_lists_regular_files_and_records_one_problem_per_refusal(tree: Path) -> None:
    problems = Problems()
    files = walk([tree], problems)
    assert [f.source for f in files] == EXPECTED_SOURCES
    tmp = tree.parent.resolve()
    assert sorted(str(p) for p in problems) == [p.format(tmp=tmp) for p in EXPECTED_PROBLEMS]
    assert {p.kind for p in problems} == {"source"}
    by_source = {f.source: f for f in files}
    assert by_source["packed_no_suffix"].compression == "gz"
    assert by_source["auth.log.2.gz"].compression == "gz"
    assert by_source["auth.log"].compression is None
    assert by_source["empty.log"].size == 0
    assert all(f.root == tree for f in files)


# source, chain, chain_index
CHAINS = [
    ("auth.log", "auth.log", 0), ("auth.log.1", "auth.log", 1), ("auth.log.2.gz", "auth.log", 2),
    ("auth.log.10.gz", "auth.log", 3), ("syslog-20240102", "syslog", 1),
    ("syslog-20231231.gz", "syslog", 2), ("nginx/access.log", "nginx/access.log", 0),
    ("nginx/access.log.1", "nginx/access.log", 1), ("empty.log", "empty.log", 0),
]


@pytest.mark.parametrize("source,chain,index", CHAINS)
def test_rotation_names(tree: Path, source: str, chain: str, index: int) -> None:
    by_source = {f.source: f for f in walk([tree], Problems())}
    assert (by_source[source].chain, by_source[source].chain_index) == (chain, index)


def test_rotation_chains_run_oldest_to_newest(tree: Path) -> None:
    chains = {c[0].chain: [f.source for f in c] for c in rotation_chains(walk([tree], Problems()))}
    assert chains["auth.log"] == ["auth.log.10.gz", "auth.log.2.gz", "auth.log.1", "auth.log"]
    assert chains["syslog"] == ["syslog-20231231.gz", "syslog-20240102"]
    assert chains["nginx/access.log"] == ["nginx/access.log.1", "nginx/access.log"]


def test_files_given_directly_and_clashing_roots(tmp_path: Path) -> None:
    for host in ("web1", "web2"):
        (tmp_path / host / "log").mkdir(parents=True)
        (tmp_path / host / "log" / "auth.log").write_text(f"{host}\n")
        (tmp_path / host / "log" / f"only-{host}.log").write_text("x\n")
    single = tmp_path / "other" / "syslog"
    single.parent.mkdir()
    single.write_text("x\n")
    problems = Problems()
    files = walk([tmp_path / "web1" / "log", tmp_path / "web2" / "log", single], problems)
    # both roots are named "log": the clash falls back to the root paths as given
    web1, web2 = (f"{(tmp_path / h / 'log').as_posix().lstrip('/')}" for h in ("web1", "web2"))
    assert sorted(f.source for f in files) == sorted([
        f"{web1}/auth.log", f"{web1}/only-web1.log", f"{web2}/auth.log", f"{web2}/only-web2.log",
        "syslog"])
    assert len(problems) == 0
    files = walk([tmp_path / "web1", tmp_path / "web2"], Problems())
    assert sorted(f.source for f in files) == ["web1/log/auth.log", "web1/log/only-web1.log",
                                               "web2/log/auth.log", "web2/log/only-web2.log"]
    assert {f.source for f in walk([single, single.parent], Problems())} == {"syslog"}


def test_missing_path_and_special_files_given_directly(tmp_path: Path) -> None:
    sock = socket.socket(socket.AF_UNIX)
    sock.bind(str(tmp_path / "sock"))
    try:
        problems = Problems()
        assert walk([tmp_path / "missing", tmp_path / "sock"], problems) == []
        assert [str(p) for p in problems] == [
            f"{tmp_path / 'missing'}: cannot read: No such file or directory",
            "sock: socket skipped: not a regular file"]
    finally:
        sock.close()


def test_unreadable_directory_is_one_problem(tmp_path: Path) -> None:
    (tmp_path / "secret").mkdir()
    (tmp_path / "secret" / "auth.log").write_text("x\n")
    (tmp_path / "syslog").write_text("x\n")
    (tmp_path / "secret").chmod(0)
    script = ("import json, sys; from pathlib import Path; from scanner.errors import Problems; "
              "from scanner.sources.walk import walk; p = Problems(); "
              "files = walk([Path(sys.argv[1])], p); "
              "print(json.dumps([[f.source for f in files], [str(x) for x in p]]))")
    try:
        result = subprocess.run([*unprivileged_prefix(), sys.executable, "-c", script,
                                 str(tmp_path)], capture_output=True, text=True, check=False,
                                timeout=120)
        assert result.returncode == 0, result.stderr
        assert json.loads(result.stdout) == [["syslog"],
                                             ["secret: cannot read directory: Permission denied"]]
    finally:
        (tmp_path / "secret").chmod(0o755)


def entries(root: Path) -> list[Path]:
    """Every regular file and directory under ``root`` (symlinks and the FIFO left out)."""
    return [p for p in [root, *root.rglob("*")]
            if not p.is_symlink() and p.name != "fifo" and (p.is_file() or p.is_dir())]


def times(root: Path) -> dict[str, tuple[int, int]]:
    return {str(p): (p.stat().st_mtime_ns, p.stat().st_atime_ns) for p in entries(root)}


def test_walking_and_reading_changes_nothing(tree: Path) -> None:
    content = {str(p): p.read_bytes() for p in entries(tree) if p.is_file()}
    for path in entries(tree):  # atime older than mtime: a relatime mount would update it on read
        st = path.stat()
        os.utime(path, ns=(st.st_mtime_ns - 10**12, st.st_mtime_ns))
    before = times(tree)
    problems = Problems()
    for file in walk([tree], problems):
        list(iter_lines(file, problems))
    after = times(tree)
    assert {k: v[0] for k, v in after.items()} == {k: v[0] for k, v in before.items()}
    assert after == before  # O_NOATIME (we own these files): access times unchanged too
    assert {str(p): p.read_bytes() for p in entries(tree) if p.is_file()} == content
