"""Build the committed demo trees: ``fixtures/demo`` (the attack story) and ``fixtures/quiet``.

``python bench/make_demo.py [--out fixtures]`` writes ``demo/var/log`` and
``quiet/var/log``, each a Debian 12 VPS ``/var/log`` copy (RFC 3339 syslog, nginx
combined, dpkg/apt, raw auditd, binary wtmp/btmp), ``demo/journal`` (the demo's syslog
lines as a systemd journal, when systemd-journal-remote is installed) and
``demo/STORY.md``, whose
timeline lists the file:line of every line meant to fire a detection. Both trees
share the same benign background (same seed); only the demo adds the intrusion.
Entries are collected per log, sorted by time and split into rotation members by
date, so every file and chain runs forward in time. Addresses are documentation
ranges and dates are fixed in February 2024, so output never depends on the day
it is built; the same script always writes the same bytes.
"""

from __future__ import annotations

import argparse
import gzip
import os
import random
import re
import shutil
import sys
from calendar import timegm
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

import journal_export
import synth
from scanner.normalize.utmp import SIZE as UTMP_SIZE, encode_utmp

REPO = Path(__file__).resolve().parent.parent
US = synth.US
HOST = "vps"
ATTACKER = "203.0.113.45"  # ssh brute force, then the intruder
VICTIM = "198.51.100.7"  # the third-party site the intruder attacks from this server
ADMIN_IP = "192.0.2.50"  # the real administrator
INTRUDER_TTY = "pts/1"
HYDRA = ["hydra", "-l", "admin", "-P", "/tmp/.x/pw.txt", VICTIM, "http-post-form",
         "/wp-login.php:log=^USER^&pwd=^PASS^&wp-submit=Log In:F=incorrect"]


def at(text: str) -> int:
    """``2024-02-11T00:06:41.25`` (UTC) → microseconds since the epoch."""
    day, _, clock = text.partition("T")
    whole, _, frac = clock.partition(".")
    fields = tuple(map(int, day.split("-"))) + tuple(map(int, whole.split(":")))
    seconds = timegm(fields + (0, 0, 0))
    return seconds * US + int((frac or "0").ljust(6, "0"))


# Rotation boundaries, newest first: the live file holds t >= b[0], ``.1`` t >= b[1], ``.2.gz``
# the rest.
ROTATION = {"auth.log": (at("2024-02-11T00:00:00"), at("2024-02-04T00:00:00")),
            "nginx/access.log": (at("2024-02-11T00:00:00"), at("2024-02-10T00:00:00"))}
START, END = at("2024-02-02T00:00:00"), at("2024-02-11T12:00:00")
WEB_START = at("2024-02-09T00:00:00")
RECENT = at("2024-02-11T00:00:00")  # syslog, kern.log and audit.log were rotated here


@dataclass(order=True)
class Entry:
    """One text line of one log (``log`` is the chain path); ``mark`` names the detection."""

    t_us: int
    seq: int
    log: str = field(compare=False)
    text: str = field(compare=False)
    mark: str | None = field(compare=False, default=None)
    syslog: tuple[str, int | None, str] | None = field(compare=False, default=None)
    """(program, pid, message) of a syslog-family line: what journald would have stored"""


@dataclass(order=True)
class Record:
    """One wtmp/btmp record; ``fields`` None is an all-zero (wiped) record."""

    t_us: int
    seq: int
    log: str = field(compare=False)
    fields: dict[str, Any] | None = field(compare=False)
    mark: str | None = field(compare=False, default=None)


@dataclass
class Story:
    """Every line and record of a tree, before layout."""

    rng: random.Random
    entries: list[Entry] = field(default_factory=list)
    records: list[Record] = field(default_factory=list)

    def line(self, log: str, t_us: int, text: str, mark: str | None = None,
             syslog: tuple[str, int | None, str] | None = None) -> None:
        """Add one line (``syslog``: its program, pid and message, for the journal)."""
        self.entries.append(Entry(t_us, len(self.entries), log, text, mark, syslog))

    def block(self, log: str, t_us: int, texts: Sequence[str], mark: str | None = None,
              marked: int | None = None) -> None:
        """Add lines written together; ``mark`` applies to all, or to index ``marked`` only."""
        for i, text in enumerate(texts):
            self.line(log, t_us, text, mark if marked in (None, i) else None)

    def syslog(self, log: str, t_us: int, program: str, pid: int | None, message: str,
               mark: str | None = None) -> None:
        """Add one rsyslog line from this host."""
        self.line(log, t_us, synth.syslog_line(t_us, HOST, program, pid, message), mark,
                  (program, pid, message))

    def auth(self, t_us: int, program: str, pid: int | None, message: str,
             mark: str | None = None) -> None:
        """Add one auth.log line."""
        self.syslog("auth.log", t_us, program, pid, message, mark)

    def web(self, t_us: int, client: str, method: str, uri: str, status: int, size: int,
            agent: str, mark: str | None = None, referer: str = "-") -> None:
        """Add one nginx access line."""
        self.line("nginx/access.log", t_us,
                  synth.access_line(t_us, client, method, uri, status, size, referer, agent), mark)

    def record(self, log: str, t_us: int, fields: dict[str, Any] | None,
               mark: str | None = None) -> None:
        """Add one binary login record (``fields`` without ``time``; None: a zeroed record)."""
        dated = {**fields, "time": synth.utc_datetime(t_us)} if fields else None
        self.records.append(Record(t_us, len(self.records), log, dated, mark))

    def pid(self) -> int:
        """A fresh-looking process id."""
        return self.rng.randint(1200, 48000)


def audit_serial(t_us: int) -> int:
    """auditd's event serial, rising with time (about one audited event every two seconds)."""
    return 7000 + (t_us - RECENT) // (2 * US)


# --- the benign background (both trees) -------------------------------------------------------


def hours(start: int, end: int, step_s: int, jitter_s: int, rng: random.Random) -> list[int]:
    """Times every ``step_s`` seconds in [start, end), each pushed up to ``jitter_s`` later."""
    return [t + rng.randrange(jitter_s * US + 1) for t in range(start, end, step_s * US)]


def admin_day(story: Story, t: int, session: int) -> None:
    """The administrator's daily key login, a sudo command and the logout."""
    pid, port, tty = story.pid(), story.rng.randint(40000, 60000), "pts/0"
    key = "q9Xk2mV7bT1sL0pZr8aWc4yNf3uJd6hGe5iKo2Qw1Es"
    slot = {"pid": pid + 2, "tty": tty, "id": "ts/0"}
    story.auth(t, "sshd", pid, synth.ssh_accepted("publickey", "deploy", ADMIN_IP, port, key))
    story.auth(t + 1000, "sshd", pid, synth.pam_session("sshd", "deploy", 1000, "", 0, True))
    story.auth(t + 9000, "systemd-logind", 611, synth.logind_new_session(session, "deploy"))
    story.record("wtmp", t + 9000, {"type": "USER_PROCESS", "user": "deploy", "host": ADMIN_IP,
                                    "src_ip": ADMIN_IP, **slot})
    if t >= RECENT:
        story.syslog("syslog", t + 9500, "systemd", 1,
                     f"Started session-{session}.scope - Session {session} of User deploy.")
    t_sudo = t + 95 * US
    command = story.rng.choice(("/usr/bin/apt update", "/usr/bin/systemctl reload nginx",
                                "/usr/bin/journalctl -u nginx --since today"))
    story.auth(t_sudo, "sudo", None, synth.sudo_command("deploy", tty, "/home/deploy", command))
    story.auth(t_sudo + 2000, "sudo", None,
               synth.pam_session("sudo", "root", 0, "deploy", 1000, True))
    story.auth(t_sudo + 2 * US, "sudo", None, synth.pam_session("sudo", "root", 0, "", 0, False))
    t_out = t + 14 * 60 * US
    story.auth(t_out, "sshd", pid, synth.ssh_disconnect("deploy", ADMIN_IP, port))
    story.auth(t_out + 800, "sshd", pid, synth.pam_session("sshd", "deploy", 1000, "", 0, False))
    story.auth(t_out + 5000, "systemd-logind", 611,
               f"Session {session} logged out. Waiting for processes to exit.")
    story.record("wtmp", t_out + 5000, {"type": "DEAD_PROCESS", **slot})


PAGES = ("/", "/blog/", "/blog/2024/02/backups-that-work/", "/about/", "/contact/", "/feed/",
         "/?s=nginx+tuning", "/wp-content/uploads/2024/01/diagram.png")
ASSETS = ("/wp-includes/css/dist/block-library/style.min.css?ver=6.4.3",
          "/wp-content/themes/twentytwentyfour/style.css?ver=1.0",
          "/wp-includes/js/jquery/jquery.min.js?ver=3.7.1", "/favicon.ico")


def web_visit(story: Story, t: int) -> None:
    """A browser loading a page and some of its assets (WordPress site)."""
    rng = story.rng
    ip, agent = f"192.0.2.{rng.randint(60, 250)}", rng.choice(synth.BROWSER_AGENTS)
    page = rng.choice(PAGES)
    status = 304 if rng.random() < 0.15 else 200
    story.web(t, ip, "GET", page, status, rng.randint(900, 38000), agent)
    for i, asset in enumerate(rng.sample(ASSETS, rng.randint(0, 3))):
        story.web(t + (i + 1) * 180_000, ip, "GET", asset, 200, rng.randint(400, 90000), agent,
                  referer=f"https://www.example.org{page}")


SESSIONCLEAN = ("[ -x /usr/lib/php/sessionclean ] && if [ ! -d /run/systemd/system ]; then "
                "/usr/lib/php/sessionclean; fi")


def background(story: Story) -> None:
    """Cron, admin logins, web visitors, timers, kernel noise, an upgrade, audited cron jobs."""
    rng = story.rng
    for t in hours(START + 17 * 60 * US, END, 3600, 40, rng):
        pid = story.pid()
        story.auth(t, "CRON", pid, synth.pam_session("cron", "root", 0, "", 0, True))
        story.auth(t + 80_000, "CRON", pid, synth.pam_session("cron", "root", 0, "", 0, False))
    for day, t in enumerate(hours(at("2024-02-02T08:40:00"), END, 86400, 1800, rng)):
        admin_day(story, t, 40 + day)
    for t in hours(WEB_START, END, 900, 840, rng):
        web_visit(story, t)
    for t in hours(RECENT, END, 1800, 20, rng):
        pid = story.pid()
        story.syslog("syslog", t, "CRON", pid, synth.cron_command("root", SESSIONCLEAN))
        story.block("audit/audit.log", t + 30_000, synth.audit_exec(
            t + 30_000, audit_serial(t + 30_000), pid + 1, pid, 4294967295, 0, 4294967295,
            "/usr/bin/dash", ["/bin/sh", "-e", "/usr/lib/php/sessionclean"], "/"))
    for t in hours(RECENT, END, 2700, 1500, rng):
        src, port = f"198.51.100.{rng.randint(100, 250)}", rng.choice((23, 3389, 5900, 6379))
        story.syslog("kern.log", t, "kernel", None, synth.ufw_block(
            src, "192.0.2.10", rng.randint(30000, 60000), port, rng.randint(1, 65535)))
    for t in hours(RECENT, END, 3 * 3600, 600, rng):
        story.syslog("syslog", t, "systemd", 1,
                     "Starting phpsessionclean.service - Clean php session files...")
        story.syslog("syslog", t + 400_000, "systemd", 1,
                     "phpsessionclean.service: Deactivated successfully.")
    upgrade, old, new = at("2024-02-09T06:31:07"), "3.0.11-1~deb12u1", "3.0.11-1~deb12u2"
    story.block("apt/history.log", upgrade, synth.apt_history_block(
        upgrade, upgrade + 9 * US, "/usr/bin/unattended-upgrade", None, "Upgrade",
        f"libssl3:amd64 ({old}, {new}), openssl:amd64 ({old}, {new})"))
    for offset, package in ((2, "libssl3"), (5, "openssl")):
        t = upgrade + offset * US
        story.block("dpkg.log", t, synth.dpkg_upgrade(t, package, old, new))
    story.record("wtmp", at("2024-02-02T00:00:04"), {"type": "BOOT_TIME", "tty": "~", "id": "~~",
                                                     "user": "reboot", "host": "6.1.0-18-amd64"})
    reload = at("2024-02-09T00:00:02")
    story.line("nginx/error.log", reload,
               f"{synth.plain(reload, '/')} [notice] 811#811: signal process started")


# --- the intrusion (demo tree only) ------------------------------------------------------------


def ssh_attempt(story: Story, t: int, user: str, invalid: bool, mark: str) -> int:
    """One failed ssh password attempt by the attacker (auth.log + btmp); returns its end."""
    pid, port = story.pid(), story.rng.randint(32768, 60999)
    if invalid:
        story.auth(t, "sshd", pid, synth.ssh_invalid_user(user, ATTACKER, port), mark)
    t += 40_000
    story.auth(t, "sshd", pid, synth.ssh_auth_failure(ATTACKER, None if invalid else user), mark)
    t += 2_100_000
    story.auth(t, "sshd", pid, synth.ssh_failed_password(user, ATTACKER, port, invalid), mark)
    story.record("btmp", t, {"type": "LOGIN_PROCESS", "pid": pid, "tty": "ssh:notty", "user": user,
                             "host": ATTACKER, "src_ip": ATTACKER}, mark)
    story.auth(t + 300_000, "sshd", pid, synth.ssh_preauth_close(user, ATTACKER, port, invalid))
    return t + 300_000


def brute_force(story: Story, start: int, end: int, user: str) -> None:
    """Password guesses for one account every ~30 s over [start, end)."""
    t = start
    while t < end:
        t = ssh_attempt(story, t, user, False, "ssh brute force") + story.rng.randint(25, 32) * US


def sudo(story: Story, t: int, command: str, mark: str | None = None) -> None:
    """The intruder's successful sudo (command line, then pam session lines)."""
    story.auth(t, "sudo", None,
               synth.sudo_command("webadmin", INTRUDER_TTY, "/home/webadmin", command), mark)
    story.auth(t + 3000, "sudo", None, synth.pam_session("sudo", "root", 0, "webadmin", 1001, True))
    story.auth(t + 900_000, "sudo", None, synth.pam_session("sudo", "root", 0, "", 0, False))


SPRAYED = ("admin", "test", "oracle", "postgres", "ubuntu", "git", "ftpuser", "guest", "deploy",
           "support", "webmaster", "webadmin")
EXISTING = ("deploy", "webadmin")
HYDRA_DEPS = (("libssh-4", "0.10.6-0+deb12u1"), ("libmariadb3", "1:10.11.6-0+deb12u1"),
              ("libpq5", "15.5-0+deb12u1"), ("hydra", "9.4-1"))


def intrusion(story: Story) -> None:
    """Brute force over the rotation chain, spraying, the login, privilege abuse, the attack."""
    brute_force(story, at("2024-02-03T23:47:10"), at("2024-02-04T00:11:00"), "root")
    t = at("2024-02-08T14:02:31")
    for user in SPRAYED:
        t = ssh_attempt(story, t, user, user not in EXISTING, "ssh password spraying")
        t += story.rng.randint(240, 330) * US  # slow: at most 3 attempts in any 10 minutes
    brute_force(story, at("2024-02-10T23:51:02"), at("2024-02-11T00:06:20"), "webadmin")

    login, pid, port = at("2024-02-11T00:06:41.402217"), 31337, 51884
    story.auth(login, "sshd", pid, synth.ssh_accepted("password", "webadmin", ATTACKER, port),
               "ssh success after failures")
    story.auth(login + 6000, "sshd", pid, synth.pam_session("sshd", "webadmin", 1001, "", 0, True))
    story.auth(login + 21000, "systemd-logind", 611, synth.logind_new_session(57, "webadmin"))
    story.syslog("syslog", login + 23000, "systemd", 1,
                 "Started session-57.scope - Session 57 of User webadmin.")
    story.record("wtmp", login + 21000, {"type": "USER_PROCESS", "pid": pid + 2, "id": "ts/1",
                                         "tty": INTRUDER_TTY, "user": "webadmin",
                                         "host": ATTACKER, "src_ip": ATTACKER})
    privilege_abuse(story)
    outbound_attack(story)
    out = at("2024-02-11T01:02:09.6")
    story.auth(out, "sshd", pid, synth.ssh_disconnect("webadmin", ATTACKER, port))
    story.auth(out + 900, "sshd", pid, synth.pam_session("sshd", "webadmin", 1001, "", 0, False))
    story.auth(out + 6000, "systemd-logind", 611,
               "Session 57 logged out. Waiting for processes to exit.")
    story.record("wtmp", out + 6000, None, "log tampering (zeroed wtmp record)")


def privilege_abuse(story: Story) -> None:
    """su and sudo failures, then a new sudoer and a second UID-0 account."""
    tty = f"/dev/{INTRUDER_TTY}"
    t = at("2024-02-11T00:08:12.55")
    story.auth(t, "su", 31377, synth.pam_auth_failure("su", "webadmin", 1001, tty, "root"),
               "su failure")
    story.auth(t + 2_400_000, "su", 31377, synth.su_failed("webadmin", "root", INTRUDER_TTY),
               "su failure")
    t = at("2024-02-11T00:09:03.1")
    story.auth(t, "sudo", None, synth.pam_auth_failure("sudo", "webadmin", 1001, tty, "webadmin"),
               "sudo failure")
    story.auth(t + 4_100_000, "sudo", None, synth.sudo_incorrect(
        "webadmin", INTRUDER_TTY, "/home/webadmin", "/usr/bin/bash", 1), "sudo failure")
    sudo(story, at("2024-02-11T00:09:31.7"), "/usr/bin/id")

    t = at("2024-02-11T00:11:02.3")
    sudo(story, t, "/usr/sbin/useradd -m -s /bin/bash sysupdate")
    story.auth(t + 60_000, "groupadd", 31420, synth.useradd_group("sysupdate", 1002), "new user")
    story.auth(t + 61_000, "useradd", 31420, synth.useradd_user(
        "sysupdate", 1002, 1002, "/home/sysupdate", "/bin/bash", tty), "new user")
    t = at("2024-02-11T00:11:40.9")
    sudo(story, t, "/usr/bin/passwd sysupdate")
    story.auth(t + 9_000_000, "passwd", 31431, synth.password_changed("passwd", "sysupdate"))
    t = at("2024-02-11T00:12:15.2")
    sudo(story, t, "/usr/sbin/usermod -aG sudo sysupdate")
    for offset, shadow in ((40_000, False), (41_000, True)):
        story.auth(t + offset, "usermod", 31440,
                   synth.usermod_add_group("sysupdate", "sudo", shadow), "sudo group add")
    t = at("2024-02-11T00:13:48.6")
    argv = ["useradd", "-o", "-u", "0", "-g", "0", "-M", "-d", "/root", "-s", "/bin/bash",
            "systemd-net"]
    sudo(story, t, "/usr/sbin/" + " ".join(argv))
    story.auth(t + 50_000, "useradd", 31452, synth.useradd_user(
        "systemd-net", 0, 0, "/root", "/bin/bash", tty), "uid-0 account")
    story.block("audit/audit.log", t + 20_000, synth.audit_exec(
        t + 20_000, audit_serial(t + 20_000), 31452, 31451, 1001, 0, 57, "/usr/sbin/useradd",
        argv, "/home/webadmin"), "uid-0 account", marked=1)


def outbound_attack(story: Story) -> None:
    """hydra installed with sudo apt, a password list fetched, hydra run against the victim."""
    t = at("2024-02-11T00:15:20.4")
    sudo(story, t, "/usr/bin/apt install -y hydra")
    installed = ", ".join(f"{name}:amd64 ({version}{'' if name == 'hydra' else ', automatic'})"
                          for name, version in HYDRA_DEPS[::-1])
    story.block("apt/history.log", t + 1_200_000, synth.apt_history_block(
        t + 1_200_000, t + 19_000_000, "apt install -y hydra", "webadmin (1001)", "Install",
        installed), "suspicious package", marked=4)
    for i, (name, version) in enumerate(HYDRA_DEPS):
        tp = t + (9 + i) * US
        story.block("dpkg.log", tp, synth.dpkg_install(tp, name, version),
                    "suspicious package" if name == "hydra" else None, marked=1)
    t = at("2024-02-11T00:17:05.8")
    wget = ["wget", "-q", "-O", "/tmp/.x/pw.txt", "http://198.51.100.99/lists/pw.txt"]
    story.block("audit/audit.log", t, synth.audit_exec(
        t, audit_serial(t), 31502, 31470, 1001, 1001, 57, "/usr/bin/wget", wget, "/home/webadmin"))
    t = at("2024-02-11T00:18:33.1")
    sudo(story, t, "/usr/bin/" + " ".join(HYDRA), "attack tool run")
    story.block("audit/audit.log", t + 30_000, synth.audit_exec(
        t + 30_000, audit_serial(t + 30_000), 31544, 31543, 1001, 0, 57, "/usr/bin/hydra", HYDRA,
        "/home/webadmin"), "attack tool run", marked=1)


NIKTO_PATHS = ("/admin/", "/backup.zip", "/.git/HEAD", "/phpinfo.php", "/server-status",
               "/test.php", "/config.php.bak", "/db.sql", "/.htpasswd", "/cgi-bin/test.cgi")
SQLMAP_QUERIES = ("id=1", "id=1%27", "id=1%20AND%201=1",
                  "id=1%27%20UNION%20SELECT%20NULL,version()--%20-", "id=1%20order%20by%2010--")
WPSCAN_PATHS = ("/readme.html", "/wp-json/wp/v2/users", "/wp-content/plugins/akismet/readme.txt")
TRAVERSAL = "/download.php?file=../../../etc/passwd"


def web_attacks(story: Story) -> None:
    """Inbound web noise: scanners, a 404 burst, a wp-login/xmlrpc POST burst, a traversal probe."""
    sqlmap, wpscan, masscan, zgrab = (synth.SCANNER_AGENTS[i] for i in (0, 2, 3, 4))
    t = at("2024-02-09T15:04:12")
    for i, path in enumerate(NIKTO_PATHS * 5):
        tt, uri = t + i * 2_500_000, f"{path}?{i}" if i >= len(NIKTO_PATHS) else path
        agent = f"Mozilla/5.00 (Nikto/2.5.0) (Evasions:None) (Test:{i + 1:06d})"
        story.web(tt, "198.51.100.77", "GET", uri, 404, 162, agent,
                  "web 404 burst, scanner user agent")
        if i < len(NIKTO_PATHS) and i % 3 == 0:
            story.line("nginx/error.log", tt, synth.nginx_error_line(
                tt, 812, 4100 + i, f'open() "/var/www/html{path}" failed (2: No such file or '
                'directory)', "198.51.100.77", f"GET {path} HTTP/1.1"))
    t = at("2024-02-09T19:40:27")
    for i, query in enumerate(SQLMAP_QUERIES):
        story.web(t + i * 1_300_000, "198.51.100.78", "GET", f"/index.php?{query}", 200, 5120,
                  sqlmap, "scanner user agent")
    t = at("2024-02-10T03:12:40")
    for i in range(30):
        login = i < 20
        story.web(t + i * 3_700_000 + story.rng.randrange(900_000), "203.0.113.99", "POST",
                  "/wp-login.php" if login else "/xmlrpc.php", 200, 3891 if login else 407,
                  synth.BROWSER_AGENTS[2], "wp-login burst")
    t = at("2024-02-10T11:25:03")
    for i, path in enumerate(WPSCAN_PATHS):
        story.web(t + i * 900_000, "198.51.100.80", "GET", path, 200, 2233, wpscan,
                  "scanner user agent")
    story.web(at("2024-02-11T02:44:19"), "198.51.100.81", "GET", "/", 200, 10918, masscan,
              "scanner user agent")
    story.web(at("2024-02-11T05:30:51"), "198.51.100.82", "GET", "/", 200, 10918, zgrab,
              "scanner user agent")
    t = at("2024-02-11T07:12:08")
    story.web(t, "198.51.100.83", "GET", TRAVERSAL, 404, 162, "curl/7.88.1", "path traversal probe")
    story.line("nginx/error.log", t, synth.nginx_error_line(
        t, 812, 9917, 'open() "/var/www/html/download.php" failed (2: No such file or directory)',
        "198.51.100.83", f"GET {TRAVERSAL} HTTP/1.1"))


# --- layout --------------------------------------------------------------------------------------


def member(log: str, t_us: int) -> str:
    """The rotation member of ``log`` that holds time ``t_us``."""
    bounds = ROTATION.get(log, ())
    for index, bound in enumerate(bounds):
        if t_us >= bound:
            return log if index == 0 else f"{log}.{index}"
    return f"{log}.{len(bounds)}.gz" if bounds else log


@dataclass(frozen=True)
class Mark:
    """A line meant to fire: when, where (file, 1-based line), which detection, the text."""

    t_us: int
    path: str
    line: int
    kind: str
    text: str


def describe(fields: dict[str, Any] | None) -> str:
    """A login record in one line for STORY.md."""
    if fields is None:
        return "384 zero bytes"
    return " ".join(str(fields.get(key, "")) for key in ("type", "user", "tty", "host"))


def write_tree(story: Story, root: Path) -> list[Mark]:
    """Lay the story out under ``root`` (a ``var/log``); returns the marked lines."""
    files: dict[str, list[Entry]] = {}
    for entry in sorted(story.entries):
        files.setdefault(member(entry.log, entry.t_us), []).append(entry)
    marks = []
    for rel, entries in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        data = "".join(f"{e.text}\n" for e in entries).encode()
        last = entries[-1].t_us // US
        with open(path, "wb") as out:
            if path.suffix == ".gz":
                with gzip.GzipFile(filename="", mode="wb", fileobj=out, mtime=last) as gz:
                    gz.write(data)
            else:
                out.write(data)
        os.utime(path, (last, last))
        marks += [Mark(e.t_us, rel, n, e.mark, e.text) for n, e in enumerate(entries, 1) if e.mark]
    for name in ("wtmp", "btmp"):
        records = sorted(r for r in story.records if r.log == name)
        (root / name).write_bytes(b"".join(encode_utmp(r.fields) if r.fields else bytes(UTMP_SIZE)
                                           for r in records))
        marks += [Mark(r.t_us, name, n, r.mark, f"record {n}: {describe(r.fields)}")
                  for n, r in enumerate(records, 1) if r.mark]
    return sorted(marks, key=lambda m: (m.t_us, m.path, m.line))


# --- the journal: the syslog-family and audit lines as journald on Debian 12 stores them

MACHINE_ID = "2f6a1d4c8b9e4f7a9c3d5e1b7a2c4d6e"
BOOT_ID = "8d3e6f1a2b4c4d5e9f0a1b2c3d4e5f60"
BOOTED = START - 86400 * US  # the boot all entries belong to
# (log, program) → syslog facility: sshd logs as auth, pam and the shadow tools as authpriv
# (both to auth.log under rsyslog), cron as cron, the kernel as kern, the rest as daemon
FACILITY = {"auth.log": 10, "kern.log": 0, "syslog": 3}
PROGRAM_FACILITY = {"sshd": 4, "CRON": 9}


AUDIT_LINE = re.compile(r"type=(\w+) msg=audit\((\d+)\.(\d{3}):(\d+)\): (.*)")
AUDIT_TYPES = {"SYSCALL": 1300, "PATH": 1302, "CWD": 1307, "EXECVE": 1309, "PROCTITLE": 1327}


def journal_entries(story: Story) -> list[dict[str, str]]:
    """The export-format fields of every syslog-family and audit line of ``story``, in time
    order, as journald stores them."""
    entries = []
    for entry in sorted(story.entries):
        head = {"__REALTIME_TIMESTAMP": str(entry.t_us),
                "__MONOTONIC_TIMESTAMP": str(entry.t_us - BOOTED), "_BOOT_ID": BOOT_ID,
                "_MACHINE_ID": MACHINE_ID, "_HOSTNAME": HOST}
        audit = AUDIT_LINE.fullmatch(entry.text) if entry.log == "audit/audit.log" else None
        if audit is not None:
            kind, seconds, millis, serial, body = audit.groups()
            entries.append({**head, "_TRANSPORT": "audit", "_AUDIT_TYPE": str(AUDIT_TYPES[kind]),
                            "_AUDIT_TYPE_NAME": kind, "_AUDIT_ID": serial,
                            "_SOURCE_REALTIME_TIMESTAMP": f"{seconds}{millis}000",
                            "MESSAGE": f"{kind} {body}"})
        if entry.syslog is None:
            continue
        program, pid, message = entry.syslog
        kernel = program == "kernel"
        fields = {**head, "_TRANSPORT": "kernel" if kernel else "syslog",
                  "PRIORITY": "4" if kernel else "6",
                  "SYSLOG_FACILITY": str(PROGRAM_FACILITY.get(program, FACILITY[entry.log])),
                  "SYSLOG_IDENTIFIER": program}
        if pid is not None:
            fields.update(SYSLOG_PID=str(pid), _PID=str(pid))
        fields["MESSAGE"] = message
        entries.append(fields)
    return entries


def write_journal_tree(story: Story, root: Path) -> Path | None:
    """``root/<machine-id>/system.journal`` written by systemd-journal-remote from the story's
    syslog-family and audit lines; ``None`` (the committed file kept) when the tool is not
    installed."""
    if not journal_export.have_tools():
        return None
    shutil.rmtree(root, ignore_errors=True)
    path = root / MACHINE_ID / "system.journal"
    path.parent.mkdir(parents=True)
    journal_export.write_journal(journal_entries(story), path, compact=True, compress=True)
    last = max(e.t_us for e in story.entries) // US
    os.utime(path, (last, last))
    return path


# --- STORY.md ------------------------------------------------------------------------------------

NARRATIVE = """# The demo tree: "your server is attacking others"

`var/log/` is a copy of `/var/log` from a small Debian 12 VPS (`vps`, 192.0.2.10) running a
WordPress site behind nginx. Its provider has complained that it is attacking a third-party site
(198.51.100.7). The logs tell how that happened. All addresses are documentation ranges, all times
UTC in February 2024. `bench/make_demo.py` writes this tree, `../quiet/` (the same background
with no intrusion) and this file, so the file:line references below are always exact.

1. **Brute force.** 203.0.113.45 guesses root's ssh password around the weekly rotation of
   2024-02-04 00:00, so the attempts start in `auth.log.2.gz` and continue in `auth.log.1`. Every
   failed attempt is also a `btmp` record.
2. **Password spraying.** On 2024-02-08 the same address tries twelve account names, one attempt
   each.
3. **Success after failures.** From 2024-02-10 23:51 it guesses `webadmin`'s password, across the
   next rotation (`auth.log.1` into `auth.log`), and gets in at 00:06:41. `wtmp` has the session,
   but where its logout record should be there are 384 zero bytes: someone wiped a login record.
4. **Privilege abuse.** The intruder fails `su` and mistypes `sudo` once, then uses `sudo` to create
   `sysupdate` and add it to group `sudo`, and creates `systemd-net` with UID 0 (`useradd -o -u 0`).
5. **The outbound attack.** `sudo apt install -y hydra` (apt `history.log`, `dpkg.log`), a password
   list fetched to `/tmp/.x/`, then `sudo hydra … 198.51.100.7 http-post-form …` against the
   victim's WordPress login. `audit/audit.log` (raw format) has the EXECVE records of useradd, wget
   and hydra.
   sudo logs the command's arguments joined by spaces, without quotes, as the real sudo does.
6. **Inbound web noise** on this server's own site: a Nikto scan (a burst of 50 404s in about two
   minutes), sqlmap SQL-injection probes, WPScan, masscan and zgrab, a 30-request wp-login.php /
   xmlrpc.php POST burst, and a path traversal probe.

With the SigmaHQ corpus rules as well, expect more hits on the same story: sqlmap's UNION / ORDER BY
probes (SQL injection), Nikto's `/.git/HEAD` (source code enumeration), `sudo /usr/bin/id`
(account discovery), `wget -O /tmp/.x/pw.txt` (download to a suspicious directory) and the user
creation in audit.log. The bundled "Offensive Tool Package Installed" rule flags the hydra
install in dpkg.log.

`journal/<machine-id>/system.journal` holds the same story as a Debian 12 without rsyslog keeps it:
every line of `auth.log*`, `syslog` and `kern.log` as a journal entry (its program, pid, facility
and time) and every `audit/audit.log` record as the audit entry journald keeps, written by
`systemd-journal-remote` (compact format, ZSTD). Scanned alone it fires the same bundled findings
as those text logs. Rebuilding gives the same entries in a file with new
random file and sequence ids (`journalctl --file … -o export` is what stays identical).

The quiet tree has cron, the administrator's daily key login from 192.0.2.50 with one `sudo`,
ordinary web visitors, timers, UFW blocks, an unattended upgrade and an empty `btmp`: nothing in it
should fire, with the bundled rules or with the corpus.

## Timeline of the lines that should fire

"""


def story_markdown(marks: Sequence[Mark]) -> str:
    """STORY.md: the narrative, the episodes table and every marked line."""
    rows, episode = [], []
    for mark in [*marks, None]:
        if episode and (mark is None or mark.kind != episode[0].kind):
            places: dict[str, list[int]] = {}
            for m in episode:
                places.setdefault(m.path, []).append(m.line)
            where = ", ".join(f"`{p}:{ls[0]}`" if len(ls) == 1 else
                              f"`{p}:{ls[0]}-{ls[-1]}` ({len(ls)} lines)"
                              for p, ls in places.items())
            first = episode[0].text.replace("|", "\\|")
            rows.append(f"| {synth.rfc3339(episode[0].t_us)[:19]} | {episode[0].kind} | {where} | "
                        f"`{first[:110]}{'…' if len(first) > 110 else ''}` |")
            episode = []
        if mark is not None:
            episode.append(mark)
    table = ["| first line at (UTC) | detection | where (file:line, 1-based; records for wtmp/btmp)"
             " | first line |",
             "|---|---|---|---|", *rows]
    listing = [f"{m.path}:{m.line}\t{m.kind}" for m in marks]
    return (NARRATIVE + "\n".join(table) + "\n\n## Every marked line\n\n"
            "`path:line<TAB>detection`, in time order (line = record number for wtmp/btmp).\n\n"
            "```\n" + "\n".join(listing) + "\n```\n")


def build(out: Path, seed: int = 2024) -> list[Mark]:
    """Write ``out/demo`` (with STORY.md) and ``out/quiet``; returns the demo's marks."""
    demo, quiet = Story(random.Random(seed)), Story(random.Random(seed))
    for story in (demo, quiet):
        background(story)
    intrusion(demo)
    web_attacks(demo)
    for name in ("demo", "quiet"):
        shutil.rmtree(out / name / "var", ignore_errors=True)
    write_tree(quiet, out / "quiet" / "var" / "log")
    marks = write_tree(demo, out / "demo" / "var" / "log")
    if write_journal_tree(demo, out / "demo" / "journal") is None:
        print("systemd-journal-remote not installed: demo/journal/ left as it was", file=sys.stderr)
    (out / "demo" / "STORY.md").write_text(story_markdown(marks), encoding="utf-8")
    return marks


def main(argv: Sequence[str] | None = None) -> int:
    """Command line: ``make_demo.py [--out DIR]`` (default: the repository's fixtures/)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=REPO / "fixtures",
                        help="where demo/ and quiet/ go (default: fixtures/)")
    args = parser.parse_args(argv)
    marks = build(args.out)
    print(f"wrote {args.out / 'demo'} ({len(marks)} marked lines) and {args.out / 'quiet'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
