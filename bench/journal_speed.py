"""Journal reading speed: logsigma's pure-Python reader against ``journalctl``, same file, same run.

``python bench/journal_speed.py --entries 200000`` writes (once, cached under
``bench/out/journal-<entries>/``) a journal of that many entries with
``systemd-journal-remote`` (compact, ZSTD: Debian 12's defaults; it archives a file past
about 37 MB, so a big journal is several files, as on a real host): sshd, sudo, cron and
kernel messages with the ~20 metadata fields journald adds to each. Then it times, in
fresh child processes, interleaved, ``--repeats`` times each: the reader alone
(``read_journal`` over every entry and field), ``logsigma events`` (reader + routing +
grammars, JSON lines to a file), ``logsigma scan`` with the bundled rules, and
``journalctl --directory D -o export > file``. It prints medians: wall seconds, entries/s,
MB/s over the journal files' size, and peak RSS.
"""

from __future__ import annotations

import argparse
import random
import shutil
import statistics
import sys
import tempfile
from pathlib import Path
from typing import Sequence

from tabulate import tabulate

import journal_export
import synth
from run import run_once

BENCH = Path(__file__).resolve().parent
US = synth.US
BOOT_ID = "5c1e2f3a4b5c4d6e8f9a0b1c2d3e4f50"
MACHINE_ID = "2f6a1d4c8b9e4f7a9c3d5e1b7a2c4d6e"
T0 = 1707609600 * US


def entry(n: int, rng: random.Random) -> dict[str, str]:
    """One realistic journald entry (a syslog daemon's message and journald's metadata)."""
    t = T0 + n * 200_000 + rng.randrange(100_000)
    pid = rng.randint(1000, 60000)
    kind = rng.random()
    if kind < 0.6:
        ip = f"203.0.113.{rng.randint(1, 254)}"
        program, unit, facility = "sshd", "ssh.service", "4"
        message = synth.ssh_failed_password(rng.choice(("root", "admin", "ubuntu")), ip,
                                            rng.randint(30000, 60000), rng.random() < 0.5)
    elif kind < 0.8:
        program, unit, facility = "CRON", "cron.service", "9"
        message = synth.pam_session("cron", "root", 0, "", 0, True)
    elif kind < 0.9:
        program, unit, facility = "sudo", "session-4.scope", "10"
        message = synth.sudo_command("deploy", "pts/0", "/home/deploy", "/usr/bin/apt update")
    else:
        program, unit, facility = "kernel", "", "0"
        message = synth.ufw_block(f"198.51.100.{rng.randint(1, 254)}", "192.0.2.10",
                                  rng.randint(1024, 65535), rng.choice((22, 23, 3389)),
                                  rng.randint(1, 65535))
    fields = {"__REALTIME_TIMESTAMP": str(t), "__MONOTONIC_TIMESTAMP": str(t - T0 + 9 * US),
              "_BOOT_ID": BOOT_ID, "_MACHINE_ID": MACHINE_ID, "_HOSTNAME": "vps",
              "PRIORITY": "6", "SYSLOG_FACILITY": facility, "SYSLOG_IDENTIFIER": program,
              "MESSAGE": message}
    if program != "kernel":
        fields.update({"_TRANSPORT": "syslog", "SYSLOG_PID": str(pid), "_PID": str(pid),
                       "_UID": "0", "_GID": "0", "_COMM": program.lower(),
                       "_EXE": f"/usr/sbin/{program.lower()}",
                       "_CMDLINE": f"{program.lower()}: worker",
                       "_CAP_EFFECTIVE": "1ffffffffff", "_SELINUX_CONTEXT": "unconfined\n",
                       "_SYSTEMD_CGROUP": f"/system.slice/{unit}", "_SYSTEMD_UNIT": unit,
                       "_SYSTEMD_SLICE": "system.slice",
                       "_SYSTEMD_INVOCATION_ID": f"{rng.getrandbits(128):032x}",
                       "_SOURCE_REALTIME_TIMESTAMP": str(t - 37)})
    else:
        fields["_TRANSPORT"] = "kernel"
    return fields


def ensure_journal(entries: int) -> Path:
    """The directory of the cached benchmark journal of ``entries`` entries (written on first
    use; a ``.done`` file marks a complete one)."""
    directory = BENCH / "out" / f"journal-{entries}"
    if not (directory / ".done").is_file():
        shutil.rmtree(directory, ignore_errors=True)
        directory.mkdir(parents=True)
        rng = random.Random(entries)
        journal_export.write_journal((entry(n, rng) for n in range(entries)),
                                     directory / "system.journal", compact=True, compress=True)
        (directory / ".done").touch()
    return directory


def read_all(directory: Path) -> int:
    """Entries of the journal files in ``directory``, read with every field (the reader alone,
    no normalization)."""
    from scanner.errors import Problems
    from scanner.model import SourceFile
    from scanner.sources.journal import read_journal

    count = 0
    for path in sorted(directory.glob("*.journal")):
        file = SourceFile(path=path, root=directory, source=path.name,
                          size=path.stat().st_size, mtime=0.0)
        count += sum(1 for _ in read_journal(file, Problems()))
    return count


def main(argv: Sequence[str] | None = None) -> int:
    """Command line: ``journal_speed.py [--entries N] [--repeats R]``."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--entries", type=int, default=200_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--read", type=Path, help=argparse.SUPPRESS)  # the child's reader run
    args = parser.parse_args(argv)
    if args.read:
        print(read_all(args.read))
        return 0
    if not journal_export.have_tools():
        print("systemd-journal-remote and journalctl are needed", file=sys.stderr)
        return 2
    path = ensure_journal(args.entries)
    size_mb = sum(p.stat().st_size for p in path.glob("*.journal")) / 1e6
    python = sys.executable
    with tempfile.TemporaryDirectory() as scratch:
        commands = {
            "reader (read_journal, every field)": [python, str(BENCH / "journal_speed.py"),
                                                   "--read", str(path)],
            "logsigma events (jsonl)": [python, "-m", "scanner", "events", "-o",
                                        f"{scratch}/events.jsonl", str(path)],
            "logsigma scan (bundled rules)": [python, "-m", "scanner", "scan", "-q", "--jobs", "1",
                                              "-f", "jsonl", "-o", f"{scratch}/hits.jsonl",
                                              str(path)],
            "journalctl --directory D -o export > file": ["journalctl", "--directory", str(path),
                                                          "-o", "export", "--no-pager"],
        }
        runs: dict[str, list[tuple[float, float]]] = {name: [] for name in commands}
        for _ in range(args.repeats):  # interleaved, so drift hits every command alike
            for name, cmd in commands.items():
                outcome = run_once(cmd, (0, 1))
                if isinstance(outcome, str):
                    print(f"{name}: {outcome}", file=sys.stderr)
                    return 1
                runs[name].append(outcome)
    rows = []
    for name, outcomes in runs.items():
        wall = statistics.median(w for w, _ in outcomes)
        rows.append([name, f"{wall:.2f}", f"{args.entries / wall:,.0f}", f"{size_mb / wall:.1f}",
                     f"{max(r for _, r in outcomes):.0f}"])
    print(f"{path}: {args.entries} entries, {size_mb:.1f} MB; medians of {args.repeats}")
    print(tabulate(rows, headers=("command", "wall s", "entries/s", "MB/s", "peak RSS MB")))
    return 0


if __name__ == "__main__":
    sys.exit(main())
