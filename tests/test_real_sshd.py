"""A real sshd writes wtmp and btmp; our reading of copies must equal utmpdump, last and lastb.

Runs only as root (it installs openssh-server and sshpass with apt-get when missing, adds a
throwaway user and starts sshd on 127.0.0.1 with UsePAM yes); it stops sshd and removes
the user and everything else it created. The records it leaves in /var/log/wtmp and btmp
are real history and stay. fixtures/binary/sshd.* were captured the same way.
"""

from __future__ import annotations

import os
import secrets
import shutil
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import pytest

from scanner.errors import Problems
from scanner.model import Event, SourceFile
from scanner.normalize.binary import READERS

pytestmark = pytest.mark.skipif(
    os.geteuid() != 0, reason="needs root: installs openssh-server, adds a user, runs sshd")
SBIN_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
TOOLS = {"sshd": "openssh-server", "ssh": "openssh-client", "sshpass": "sshpass",
         "utmpdump": "util-linux", "last": "util-linux", "lastb": "util-linux"}
ENV = {**os.environ, "TZ": "UTC", "LANG": "C", "PATH": SBIN_PATH}


def run(*argv: str, check: bool = True, timeout: float = 60,
        stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, capture_output=True, text=True, check=check, timeout=timeout,
                          env=ENV, input=stdin)


def ensure_tools() -> dict[str, str]:
    """Path of each tool, installed with apt-get when missing; skips when that is impossible."""
    missing = sorted({pkg for tool, pkg in TOOLS.items() if not shutil.which(tool, path=SBIN_PATH)})
    if missing:
        if not shutil.which("apt-get"):
            pytest.skip(f"apt-get unavailable to install {missing}")
        env = {"DEBIAN_FRONTEND": "noninteractive"}
        try:
            subprocess.run(["apt-get", "update", "-qq"], check=True, capture_output=True,
                           timeout=300, env={**ENV, **env})
            subprocess.run(["apt-get", "install", "-y", "-qq", *missing], check=True,
                           capture_output=True, timeout=300, env={**ENV, **env})
            if not shutil.which("utmpdump", path=SBIN_PATH):  # Debian 12 moved it
                subprocess.run(["apt-get", "install", "-y", "-qq", "util-linux-extra"],
                               check=True, capture_output=True, timeout=300, env={**ENV, **env})
        except (subprocess.CalledProcessError, subprocess.TimeoutExpired) as exc:
            pytest.skip(f"could not install {missing} with apt-get: {exc}")
    return {tool: shutil.which(tool, path=SBIN_PATH) or tool for tool in TOOLS}


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def wait_listening(port: int, sshd: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline and sshd.poll() is None:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.1)
    pytest.fail(f"sshd did not listen on 127.0.0.1:{port}")


@dataclass(frozen=True)
class Capture:
    user: str
    wtmp: Path  # read-only copies taken after the logins
    btmp: Path


def ssh(tools: dict[str, str], port: int, user: str, password: str, *extra: str) -> int:
    argv = [tools["sshpass"], "-p", password, tools["ssh"], *extra, "-p", str(port),
            "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
            "-o", "LogLevel=ERROR", "-o", "PreferredAuthentications=password",
            "-o", "PubkeyAuthentication=no", "-o", "NumberOfPasswordPrompts=1",
            f"{user}@127.0.0.1", "true"]
    return run(*argv, check=False, timeout=30).returncode


@pytest.fixture(scope="module")
def capture(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Capture]:
    tools = ensure_tools()
    work = tmp_path_factory.mktemp("sshd")
    user, password = f"lsgt{secrets.randbelow(10**6)}", secrets.token_urlsafe(12)
    created: list[Path] = [p for p in (Path("/var/log/wtmp"), Path("/var/log/btmp"),
                                       Path("/run/sshd")) if not p.exists()]
    for path in created:  # sshd appends to existing files only, and needs its privsep dir
        path.mkdir(mode=0o755) if path.name == "sshd" else path.touch(mode=0o660)
    run("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(work / "hostkey"))
    run("useradd", "-m", "-s", "/bin/sh", user)
    sshd: subprocess.Popen[bytes] | None = None
    try:
        run("chpasswd", stdin=f"{user}:{password}\n")
        port = free_port()
        sshd = subprocess.Popen(
            [tools["sshd"], "-D", "-e", "-f", "/dev/null", "-h", str(work / "hostkey"),
             "-p", str(port), "-o", "ListenAddress=127.0.0.1", "-o", "UsePAM=yes",
             "-o", "PasswordAuthentication=yes", "-o", "KbdInteractiveAuthentication=no",
             "-o", f"PidFile={work / 'sshd.pid'}"],
            stdout=subprocess.DEVNULL, stderr=(work / "sshd.log").open("wb"), env=ENV)
        wait_listening(port, sshd)
        assert ssh(tools, port, user, "wrong-" + password) != 0
        assert ssh(tools, port, user, password, "-tt") == 0
        time.sleep(0.5)  # let sshd finish the session's records
        copies = {}
        for name in ("wtmp", "btmp"):
            copies[name] = work / name
            shutil.copyfile(f"/var/log/{name}", copies[name])
            copies[name].chmod(0o444)
        yield Capture(user, copies["wtmp"], copies["btmp"])
    finally:
        if sshd is not None:
            sshd.terminate()
            try:
                sshd.wait(10)
            except subprocess.TimeoutExpired:
                sshd.kill()
                sshd.wait(10)
        run("userdel", "-r", user, check=False)
        for path in created:
            path.rmdir() if path.is_dir() else path.unlink()


def events_of(path: Path) -> list[Event]:
    problems = Problems()
    file = SourceFile(path=path, root=path.parent, source=path.name, size=0, mtime=0.0)
    events = list(READERS["utmp"](file, problems))
    assert [str(p) for p in problems] == []
    return events


@pytest.mark.parametrize("name,kind,lister", [("wtmp", "USER_PROCESS", "last"),
                                              ("btmp", "LOGIN_PROCESS", "lastb")])
def test_sshd_records_equal_utmpdump_and_last(capture: Capture, name: str, kind: str,
                                              lister: str) -> None:
    path = getattr(capture, name)
    before = (path.read_bytes(), path.stat().st_mtime_ns)
    events = events_of(path)
    assert [e.raw for e in events] == run("utmpdump", str(path)).stdout.splitlines()
    ours = [e for e in events if e.fields.get("user") == capture.user]
    assert len(ours) == 1
    event = ours[0]
    assert (event.fields["type"], event.fields["src_ip"], event.fields["host"]) == (
        kind, "127.0.0.1", "127.0.0.1")
    assert event.fields["tty"].startswith("pts/" if name == "wtmp" else "ssh:notty")
    listed = run(lister, "-f", str(path), "-w", "--time-format", "iso", capture.user).stdout
    assert listed.split()[:4] == [capture.user, event.fields["tty"], "127.0.0.1",
                                  event.timestamp.replace(microsecond=0).isoformat()]
    assert (path.read_bytes(), path.stat().st_mtime_ns) == before
