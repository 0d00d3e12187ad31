"""scanner.normalize.derive: process_creation events from sudo lines and auditd EXECVE records.

Inputs are log lines we wrote after real sudo 1.9 and auditd 3.x output, normalized by the
real route parsers; the corpus tests add real logs and two real SigmaHQ rules.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from scanner.errors import Problems
from scanner.match.matcher import Matcher
from scanner.model import Event, FileStats, SourceFile
from scanner.normalize.derive import PROCESS_CREATION, derive
from scanner.normalize.normalizer import normalize_lines
from scanner.normalize.routes import choose_route, load_routes
from scanner.rules.load import load_rules

SUDO = "Mar  1 10:00:00 web1 sudo:      bob : "
AUDIT_CAT = [
    'type=SYSCALL msg=audit(1772359200.120:812): arch=c000003e syscall=59 success=yes exit=0 '
    'a0=55d0c2a8e0 a1=55d0c2a910 a2=7ffd5d1c0e88 a3=0 items=2 ppid=4410 pid=4471 auid=1000 '
    'uid=0 gid=0 euid=0 suid=0 fsuid=0 egid=0 sgid=0 fsgid=0 tty=pts0 ses=3 comm="cat" '
    'exe="/usr/bin/cat" key="exec"',
    'type=EXECVE msg=audit(1772359200.120:812): argc=2 a0="cat" a1="/etc/sudoers"',
    'type=CWD msg=audit(1772359200.120:812): cwd="/home/bob"',
    'type=PATH msg=audit(1772359200.120:812): item=0 name="/usr/bin/cat" inode=3904 dev=08:01 '
    'mode=0100755 ouid=0 ogid=0 rdev=00:00 nametype=NORMAL',
]


def normalized(source: str, lines: list[str]) -> list[Event]:
    """The events the real normalizer makes of ``lines`` as file ``source``."""
    choice = choose_route(source, lines[:5], load_routes())
    file = SourceFile(path=Path(source), root=Path("."), source=source, size=0, mtime=1772359200.0)
    return list(normalize_lines(file, choice, enumerate(lines, 1),
                                FileStats(source, choice.route.format), start_year=2026))


def derived_fields(source: str, lines: list[str]) -> list[dict[str, str]]:
    return [d.fields for event in normalized(source, lines) for d in derive(event)]


CASES = [
    ("sudo command", "auth.log",
     [SUDO + "TTY=pts/0 ; PWD=/home/bob ; USER=root ; COMMAND=/usr/bin/cat /etc/sudoers"],
     [{"image": "/usr/bin/cat", "command_line": "/usr/bin/cat /etc/sudoers", "user": "root",
       "parent_user": "bob", "cwd": "/home/bob"}]),
    ("sudo -u: User is the account the command ran as", "auth.log",
     [SUDO + "TTY=pts/0 ; PWD=/home/bob ; USER=postgres ; COMMAND=/usr/bin/psql"],
     [{"image": "/usr/bin/psql", "command_line": "/usr/bin/psql", "user": "postgres",
       "parent_user": "bob", "cwd": "/home/bob"}]),
    ("sudo relative command kept as logged, beside PWD", "auth.log",
     [SUDO + "TTY=pts/0 ; PWD=/home/bob/tools ; USER=root ; COMMAND=./collect.sh --all"],
     [{"image": "./collect.sh", "command_line": "./collect.sh --all", "user": "root",
       "parent_user": "bob", "cwd": "/home/bob/tools"}]),
    ("sudo line without USER= (sudo always logs it) is no command: no user is made up", "auth.log",
     [SUDO + "TTY=pts/0 ; PWD=/home/bob ; COMMAND=/usr/bin/id"], []),
    ("sudo wrong password ran nothing", "auth.log",
     [SUDO + "3 incorrect password attempts ; TTY=pts/0 ; PWD=/home/bob ; USER=root ; "
             "COMMAND=/usr/bin/cat /etc/shadow"], []),
    ("sudo -l ran nothing", "auth.log",
     [SUDO + "TTY=pts/0 ; PWD=/home/bob ; USER=root ; COMMAND=list"], []),
    ("sudo session line", "auth.log",
     ["Mar  1 10:00:00 web1 sudo: pam_unix(sudo:session): session opened for user root(uid=0) "
      "by bob(uid=1000)"], []),
    ("sshd line", "auth.log",
     ["Mar  1 10:00:00 web1 sshd[2811]: Failed password for root from 203.0.113.7 port 50122 ssh2"], []),
    ("grouped audit event: SYSCALL exe, EXECVE argv, CWD", "audit/audit.log", AUDIT_CAT,
     [{"image": "/usr/bin/cat", "command_line": "cat /etc/sudoers", "user": "0", "cwd": "/home/bob"}]),
    ("lone EXECVE record with a hex-encoded argument", "audit/audit.log",
     ['type=EXECVE msg=audit(1772359201.004:813): argc=3 a0="/bin/sh" a1="-c" '
      'a2=726D202D66202F7661722F6C6F672F7379736C6F67'],
     [{"image": "/bin/sh", "command_line": "/bin/sh -c rm -f /var/log/syslog"}]),
    ("EXECVE argument split by auditd is rejoined", "audit/audit.log",
     ['type=EXECVE msg=audit(1772359202.300:814): argc=2 a0="echo" a1_len=8 a1[0]="abcd" a1[1]="efgh"'],
     [{"image": "echo", "command_line": "echo abcdefgh"}]),
    ("EXECVE record cut short keeps the arguments before the cut", "audit/audit.log",
     ['type=EXECVE msg=audit(1772359203.000:815): argc=4 a0="ls" a1="-la"'],
     [{"image": "ls", "command_line": "ls -la"}]),
    ("audit event without EXECVE", "audit/audit.log",
     ['type=SYSCALL msg=audit(1772359204.000:816): arch=c000003e syscall=42 success=no exit=-115 '
      'a0=6 a1=7ffed2893080 a2=10 a3=fe items=0 ppid=1 pid=1172 auid=4294967295 uid=0 gid=0 '
      'euid=0 suid=0 fsuid=0 egid=0 sgid=0 fsgid=0 tty=(none) ses=4294967295 comm="curl" '
      'exe="/usr/bin/curl" key=(null)'], []),
]


@pytest.mark.parametrize("source, lines, expected", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_derived_fields(source: str, lines: list[str], expected: list[dict[str, str]]) -> None:
    assert derived_fields(source, lines) == expected


def test_derived_event_keeps_its_origin() -> None:
    [event] = normalized("audit/audit.log", AUDIT_CAT)
    [process] = derive(event)
    assert process.logsources == (PROCESS_CREATION,)
    assert process.derived and not event.derived
    assert (process.source, process.line, process.timestamp, process.raw, process.format) == \
        (event.source, event.line, event.timestamp, event.raw, event.format)
    assert list(derive(process)) == []


def test_real_sudo_commands(corpus: Path) -> None:
    """Every sudo command that ran in elastic/examples auth.log derives one process, no other line does."""
    lines = (corpus / "logs" / "elastic-examples" / "auth.log").read_text(errors="replace").splitlines()
    events = normalized("auth.log", lines)
    ran = [e for e in events if e.fields.get("event") == "command"]
    derived = [d for e in events for d in derive(e)]
    assert len(ran) > 100 and len(derived) == len(ran)
    assert all(d.fields["image"] in d.raw and d.fields["user"] in d.raw
               and d.fields["parent_user"] for d in derived)
    assert sum(not d.fields["image"].startswith("/") for d in derived) == 19  # "./filebeat" etc.


def test_real_audit_execve(corpus: Path) -> None:
    """go-libaudit's normal.log: two grouped exec events, read as auditd logs them."""
    lines = (corpus / "logs" / "go-libaudit" / "testdata" / "normal.log").read_text().splitlines()
    assert derived_fields("audit/audit.log", lines) == [
        {"image": "/usr/bin/grep", "command_line": "grep --color=auto mapping", "user": "1000",
         "cwd": "/home/andrew_kroh"},
        {"image": "/usr/bin/cat", "command_line": "cat securitybeat", "user": "1000",
         "cwd": "/home/andrew_kroh"},
    ]


SIGMAHQ_SUDOERS = "0f79c4d2-4e1f-4683-9c36-b5469a665e06"  # Access of Sudoers File Content
SIGMAHQ_CLEAR_SYSLOG = "3fcc9b35-39e4-44c0-a2ad-9e82b6902b31"  # Commands to Clear or Remove the Syslog

SIGMAHQ_CASES = [
    ("sudo cat /etc/sudoers", "auth.log",
     [SUDO + "TTY=pts/0 ; PWD=/home/bob ; USER=root ; COMMAND=/usr/bin/cat /etc/sudoers"],
     {SIGMAHQ_SUDOERS}),
    ("sudo cat /etc/hostname", "auth.log",
     [SUDO + "TTY=pts/0 ; PWD=/home/bob ; USER=root ; COMMAND=/usr/bin/cat /etc/hostname"], set()),
    ("refused sudo cat /etc/sudoers", "auth.log",
     [SUDO + "user NOT in sudoers ; TTY=pts/0 ; PWD=/home/bob ; USER=root ; "
             "COMMAND=/usr/bin/cat /etc/sudoers"], set()),
    ("audited cat /etc/sudoers", "audit/audit.log", AUDIT_CAT, {SIGMAHQ_SUDOERS}),
    ("audited rm -f /var/log/syslog", "audit/audit.log",
     ['type=SYSCALL msg=audit(1772359300.500:901): arch=c000003e syscall=59 success=yes exit=0 '
      'a0=5612 a1=5640 a2=7ffc a3=0 items=2 ppid=4410 pid=4502 auid=1000 uid=0 gid=0 euid=0 '
      'suid=0 fsuid=0 egid=0 sgid=0 fsgid=0 tty=pts0 ses=3 comm="rm" exe="/usr/bin/rm" key="exec"',
      'type=EXECVE msg=audit(1772359300.500:901): argc=3 a0="rm" a1="-f" a2="/var/log/syslog"',
      'type=CWD msg=audit(1772359300.500:901): cwd="/root"'],
     {SIGMAHQ_CLEAR_SYSLOG}),
    ("audited rm -f of a temp file", "audit/audit.log",
     ['type=EXECVE msg=audit(1772359301.000:902): argc=3 a0="/usr/bin/rm" a1="-f" a2="/tmp/build.log"'],
     set()),
]


@pytest.mark.parametrize("source, lines, expected", [c[1:] for c in SIGMAHQ_CASES],
                         ids=[c[0] for c in SIGMAHQ_CASES])
def test_sigmahq_process_creation_rules_fire(corpus: Path, source: str, lines: list[str],
                                             expected: set[str]) -> None:
    rules_dir = corpus / "sigmahq" / "rules" / "linux" / "process_creation"
    problems = Problems()
    compiled = load_rules([rules_dir / "proc_creation_lnx_susp_process_reading_sudoers.yml",
                           rules_dir / "proc_creation_lnx_clear_syslog.yml"], problems)
    assert not problems.items and len(compiled.rules) == 2
    matcher, fired = Matcher(compiled), set()
    for event in normalized(source, lines):
        for process in derive(event):
            plan = matcher.plan(process.logsources)
            # derived values are decoded or joined: the prefilter scans raw plus the values
            candidates = plan.candidates("\0".join([process.raw, *process.fields.values()]))
            if candidates:
                fired |= {info.id for info in plan.match(process, candidates)}
    assert fired == expected


def test_every_derived_record_contains_a_trigger_word(corpus: Path) -> None:
    """The prefilter skips records without a DERIVE_TRIGGERS word when only derived events
    could match, so every record derive() uses must contain one."""
    from scanner.normalize.derive import DERIVE_TRIGGERS
    lines = (corpus / "logs" / "elastic-examples" / "auth.log").read_text(errors="replace").splitlines()
    audit = (corpus / "logs" / "go-libaudit" / "testdata" / "normal.log").read_text().splitlines()
    events = normalized("auth.log", lines) + normalized("audit/audit.log", audit)
    sources = [e for e in events if any(True for _ in derive(e))]
    assert len(sources) > 100
    assert all(any(w in e.raw.lower() for w in DERIVE_TRIGGERS) for e in sources)


RULE = """title: {title}
id: {id}
status: test
logsource: {{product: linux, category: process_creation}}
detection:
    selection: {{{selection}}}
    condition: selection
level: high
"""


@pytest.mark.parametrize("selection, fires", [
    ("User: root, Image|endswith: /cat", True),  # SigmaHQ's meaning: the account it ran as
    ("ParentUser: bob", True),
    ("User: bob", False),
])
def test_sigma_user_is_the_account_the_command_ran_as(selection: str, fires: bool,
                                                      tmp_path: Path) -> None:
    from scanner.cli import main  # the whole scan: prefilter, derivation, field pipeline

    (tmp_path / "auth.log").write_text(
        "2024-02-11T09:30:00.000000+00:00 vps sudo:      bob : TTY=pts/0 ; PWD=/home/bob ; "
        "USER=root ; COMMAND=/usr/bin/cat /etc/shadow\n")
    rule = tmp_path / "rule.yml"
    rule.write_text(RULE.format(title="Sudo As Root", id="0b3c8a4e-5d27-4f0e-9d6b-1f2e3a4b5c6d",
                                selection=selection))
    out = tmp_path / "hits.jsonl"
    assert main(["scan", "-q", "--jobs", "1", "--no-builtin", "-r", str(rule), "-f", "jsonl",
                 "-o", str(out), str(tmp_path / "auth.log")]) == 0
    assert bool(out.read_text().strip()) is fires
