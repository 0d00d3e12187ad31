"""``scan --cluster`` on real Dask processes gives exactly what a local scan gives.

Every cluster here is started by the test on 127.0.0.1 and stopped by it: a
``LocalCluster`` (``--cluster local:2``) or a ``dask scheduler`` with ``dask worker``
processes (this interpreter's ``distributed.cli`` modules, so CI's venv is used). The
reference is ``--jobs 1``. The trees are our own: the demo tree, a brute force whose
hits a worker spills (so they come back as copied runs), a year-less syslog big enough
to be cut into parts, and forty hosts' auth.logs, units enough to kill a worker or press
Ctrl-C while the cluster holds some (the scheduler says when it does).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import pytest

pytest.importorskip("distributed", reason="dask[distributed] (the cluster extra) not installed")
from distributed import Client  # noqa: E402

import scanner  # noqa: E402
from scanner import pipeline  # noqa: E402
from scanner.cli import main  # noqa: E402
from scanner.correlate import partition  # noqa: E402
from scanner.correlate.partition import partitions  # noqa: E402
from scanner.correlate.split import HELD_HITS  # noqa: E402
from scanner.execute import cluster  # noqa: E402
from scanner.model import CorrelationSpec  # noqa: E402
from scanner.pipeline import SPLIT_BYTES  # noqa: E402

from conftest import FIXTURES, REPO  # noqa: E402

DEMO = FIXTURES / "demo" / "var" / "log"
START_SECONDS = 120  # for processes of a loaded CI machine to come up (a bound, not a wait)
ENV = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO),
                                                                  os.environ.get("PYTHONPATH")]))}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def brute_force(path: Path, lines: int, first_port: int = 40000) -> None:
    """An auth.log of ``lines`` failed SSH passwords from one address, one a second."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w") as out:
        for n in range(lines):
            minute, second = divmod(n, 60)
            hour, minute = divmod(minute, 60)
            out.write(f"2024-03-0{1 + hour // 24}T{hour % 24:02}:{minute:02}:{second:02}+00:00 vps "
                      f"sshd[{1000 + n}]: Failed password for root from 198.51.100.{n % 7} "
                      f"port {first_port + n} ssh2\n")


def quiet_syslog(path: Path, size: int) -> None:
    """A year-less syslog of cron lines (no rule fires on them) of ``size`` bytes and more,
    with one new user in its middle."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w") as out:
        written = n = 0
        while written < size:
            minute, second = divmod(n, 60)
            hour, minute = divmod(minute, 60)
            line = (f"Mar  {1 + hour // 24} {hour % 24:02}:{minute:02}:{second:02} vps CRON[{n}]: "
                    "(root) CMD (test -x /usr/sbin/anacron || run-parts --report /etc/daily)\n")
            if n == 40_000:
                line = line.split(" CRON")[0] + " useradd[77]: new user: name=backup2, UID=0\n"
            out.write(line)
            written += len(line)
            n += 1


@pytest.fixture(scope="module")
def tree(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo tree, a brute force past a worker's spill bound, a syslog cut into parts."""
    root = tmp_path_factory.mktemp("cluster-tree")
    shutil.copytree(DEMO, root / "demo")
    brute_force(root / "brute" / "auth.log", HELD_HITS + 2000)
    quiet_syslog(root / "big" / "syslog", 2 * SPLIT_BYTES + 4096)
    return root


def scan(*argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "scanner", "scan", *argv], capture_output=True,
                          text=True, timeout=900, check=False, cwd=REPO, env=ENV)


@dataclass
class DaskProcesses:
    """A ``dask scheduler`` and its ``dask worker`` processes, each its own process group."""

    address: str
    processes: list[subprocess.Popen[bytes]]

    @classmethod
    def start(cls, workers: int, *worker_args: str, prefix: tuple[str, ...] = ()) -> DaskProcesses:
        port = free_port()
        address = f"tcp://127.0.0.1:{port}"
        started = cls(address, [])
        started.spawn("distributed.cli.dask_scheduler", "--host", "127.0.0.1", "--port", str(port),
                      "--no-dashboard")
        for _ in range(workers):
            started.spawn("distributed.cli.dask_worker", address, "--host", "127.0.0.1",
                          "--nworkers", "1", "--nthreads", "1", "--no-dashboard", *worker_args,
                          prefix=prefix)
        return started

    def spawn(self, module: str, *args: str, prefix: tuple[str, ...] = ()) -> None:
        self.processes.append(subprocess.Popen(
            [*prefix, sys.executable, "-m", module, *args], cwd=REPO, env=ENV,
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True))

    def client(self, workers: int) -> Client:
        """A client of this scheduler once ``workers`` workers have joined it."""
        client = Client(self.address, timeout=START_SECONDS)
        client.wait_for_workers(workers, timeout=START_SECONDS)
        return client

    def stop(self) -> None:
        for process in reversed(self.processes):
            try:
                os.killpg(process.pid, signal.SIGTERM)
                process.wait(timeout=30)
            except ProcessLookupError:
                pass
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()


@contextmanager
def dask_processes(workers: int, *worker_args: str,
                   prefix: tuple[str, ...] = ()) -> Iterator[tuple[DaskProcesses, Client]]:
    """Scheduler and workers running, with a client of theirs, during the block."""
    started = DaskProcesses.start(workers, *worker_args, prefix=prefix)
    try:
        with started.client(workers) as client:
            yield started, client
    finally:
        started.stop()


def unprivileged() -> tuple[str, ...]:
    """A prefix dropping root's power to read any file (none when not root or no setpriv)."""
    if os.geteuid() != 0 or not shutil.which("setpriv"):
        return ()
    drop = "-dac_override,-dac_read_search"
    return ("setpriv", f"--bounding-set={drop}", f"--inh-caps={drop}", "--")


@pytest.fixture(scope="module")
def scheduler() -> Iterator[tuple[DaskProcesses, Client]]:
    """A scheduler with two workers that cannot read what their user cannot (when root)."""
    with dask_processes(2, prefix=unprivileged()) as running:
        yield running


def test_cluster_output_is_identical(tree: Path, tmp_path: Path,
                                     scheduler: tuple[DaskProcesses, Client]) -> None:
    runs = {"jobs1": ("--jobs", "1"), "jobs2": ("--jobs", "2"),
            "local2": ("--jobs", "2", "--cluster", "local:2"),
            "dask": ("--jobs", "2", "--cluster", scheduler[0].address)}
    for fmt in ("jsonl", "csv"):
        outputs = {}
        for name, argv in runs.items():
            out = tmp_path / f"{name}.{fmt}"
            result = scan(str(tree), "-q", "-f", fmt, "-o", str(out), *argv)
            assert result.returncode == 0, result.stderr
            outputs[name] = out.read_bytes()
        assert outputs["jobs1"].count(b"\n") > 20
        assert all(output == outputs["jobs1"] for output in outputs.values()), fmt


@pytest.fixture(scope="module")
def many(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Forty hosts' brute forces: units enough to catch a worker holding some."""
    root = tmp_path_factory.mktemp("many-hosts")
    for host in range(40):
        brute_force(root / f"host{host:02}" / "auth.log", 1500, first_port=20000 + host)
    return root


def busy_worker(client: Client, scan_process: subprocess.Popen[str]) -> str:
    """The address of a worker the scheduler has given units to, once there is one."""
    while scan_process.poll() is None:
        busy = client.run_on_scheduler(lambda dask_scheduler: sorted(
            ws.address for ws in dask_scheduler.workers.values() if ws.processing))
        if busy:
            return busy[0]
        time.sleep(0.05)
    pytest.fail(f"the scan ended before a worker held a unit: {scan_process.communicate()}")


def start_scan(*argv: str) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-m", "scanner", "scan", *argv], cwd=REPO, env=ENV,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def test_killed_worker_loses_and_duplicates_nothing(many: Path, tmp_path: Path) -> None:
    reference, out = tmp_path / "jobs1.jsonl", tmp_path / "cluster.jsonl"
    assert scan(str(many), "-q", "--jobs", "1", "-f", "jsonl", "-o", str(reference)).returncode == 0
    with dask_processes(2) as (started, client):
        pids = client.run(os.getpid)
        running = start_scan(str(many), "--jobs", "1", "--cluster", started.address,
                             "-f", "jsonl", "-o", str(out))
        os.kill(pids[busy_worker(client, running)], signal.SIGKILL)
        _, stderr = running.communicate(timeout=900)
    assert running.returncode == 0, stderr
    assert out.read_bytes() == reference.read_bytes()
    retried = re.search(r"^retried\s+(\d+) units run again after their worker died$", stderr,
                        re.MULTILINE)
    assert retried and int(retried.group(1)) >= 1, stderr


def test_ctrl_c_cancels_the_scan_on_the_cluster(many: Path,
                                               scheduler: tuple[DaskProcesses, Client]) -> None:
    started, client = scheduler
    running = start_scan(str(many), "-q", "--jobs", "1", "--cluster", started.address,
                         "-f", "jsonl", "-o", os.devnull)
    busy_worker(client, running)
    running.send_signal(signal.SIGINT)
    _, stderr = running.communicate(timeout=300)
    assert running.returncode == 130
    assert stderr.splitlines()[-1:] == ["logsigma: interrupted"]
    deadline = time.monotonic() + START_SECONDS
    while client.run_on_scheduler(lambda dask_scheduler: len(dask_scheduler.tasks)):
        assert time.monotonic() < deadline, "the scan's tasks stayed on the scheduler"
        time.sleep(0.1)


def test_file_a_worker_cannot_read_is_one_warning(tmp_path: Path,
                                                  scheduler: tuple[DaskProcesses, Client]) -> None:
    if not unprivileged():
        pytest.skip("needs root and setpriv: the client must read what the workers cannot")
    shutil.copytree(DEMO, tmp_path / "tree")
    secret = tmp_path / "tree" / "secret" / "auth.log"
    brute_force(secret, 20)
    secret.chmod(0)
    out = tmp_path / "scan.json"
    result = scan(str(tmp_path / "tree"), "-q", "--jobs", "1", "--cluster", scheduler[0].address,
                  "-f", "json", "-o", str(out))
    assert result.returncode == 0, result.stderr
    data = json.loads(out.read_text())
    worker = re.escape(scheduler[0].address.rsplit(":", 1)[0])
    (problem,) = [p for p in data["summary"]["problems"] if "secret" in p]
    assert re.fullmatch(
        rf"secret/auth.log: cannot open: Permission denied \(on worker {worker}:\d+\)", problem)
    assert data["hits"] and data["summary"]["files"] == 15


def test_worker_of_another_version_is_refused(tmp_path: Path) -> None:
    preload = tmp_path / "other_version.py"
    preload.write_text("import scanner\n\nscanner.__version__ = '0.0.0+other'\n")
    with dask_processes(1, "--preload", str(preload)) as (started, client):
        (worker,) = client.scheduler_info()["workers"]
        result = scan(str(DEMO), "-q", "--cluster", started.address)
    assert result.returncode == 2
    assert result.stderr.splitlines() == [
        f"logsigma: Dask worker {worker} runs logsigma 0.0.0+other, this client "
        f"{scanner.__version__}: refused (install logsigma {scanner.__version__} on every worker)"]


def test_unreachable_scheduler_is_one_line_and_exit_2() -> None:
    address = f"tcp://127.0.0.1:{free_port()}"
    result = scan(str(DEMO), "-q", "--cluster", address)
    assert result.returncode == 2
    (line,) = result.stderr.splitlines()
    assert line.startswith(f"logsigma: cannot reach the Dask scheduler at {address}: ")


def test_cluster_option_is_checked() -> None:
    result = scan(str(DEMO), "--cluster", "local:0")
    assert result.returncode == 2
    assert result.stderr == ("logsigma: error: --cluster: expected local, local:N (N >= 1) or an "
                             "address, got 'local:0'\n")


def test_correlation_partitions_run_as_cluster_tasks(
        tree: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        scheduler: tuple[DaskProcesses, Client]) -> None:
    """In this process, with a partition per hit allowed: the partitions outside the
    client's share run on workers (the client's fallback would fail here) and the bytes
    are those of the single pass."""
    monkeypatch.setattr(partition, "PARTITION_HITS", 1)
    chosen: list[int] = []

    def spy(specs: list[CorrelationSpec], slots: int) -> int:
        chosen.append(partitions(specs, slots))
        return chosen[-1]

    def no_fallback(*args: object) -> None:
        raise AssertionError("a partition was computed on the client")

    monkeypatch.setattr(pipeline, "partitions", spy)
    monkeypatch.setattr(cluster, "correlate_part", no_fallback)
    outputs = []
    for name, argv in (("jobs1", ("--jobs", "1")), ("dask", ("--cluster", scheduler[0].address))):
        out = tmp_path / f"{name}.jsonl"
        assert main(["scan", str(tree), "-q", "-f", "jsonl", "-o", str(out), *argv]) == 0
        outputs.append(out.read_bytes())
    assert chosen == [1, 2 * partition.PARTS_PER_SLOT]
    assert outputs[0] == outputs[1]
