"""Line synthesis shared by the benchmark generator and the demo-tree builder.

Takes times as integer microseconds since the epoch (UTC) and plain values (IPs,
users, pids) and returns single log lines, without the trailing newline, in the
shapes Debian 12 daemons write them: rsyslog RFC 3339 syslog lines (auth.log,
syslog, kern.log), nginx combined access and error lines, dpkg/apt/alternatives
records, PostgreSQL 15 lines and raw auditd records. Message builders return only
the syslog message; :func:`syslog_line` adds the header. The module draws no
random numbers and touches no files: callers own randomness and layout.
"""

from __future__ import annotations

import time
from datetime import datetime, timedelta, timezone
from typing import Callable

US = 1_000_000
MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")

BROWSER_AGENTS = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/121.0.0.0 Safari/537.36",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Version/17.2.1 Safari/605.1.15",
    "Mozilla/5.0 (X11; Linux x86_64; rv:122.0) Gecko/20100101 Firefox/122.0",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_3 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/17.2 Mobile/15E148 Safari/604.1",
    "Mozilla/5.0 (Linux; Android 14; Pixel 7) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/121.0.6167.101 Mobile Safari/537.36",
    "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
    "Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)",
)

SCANNER_AGENTS = (
    "sqlmap/1.7.2#stable (https://sqlmap.org)",
    "Mozilla/5.00 (Nikto/2.5.0) (Evasions:None) (Test:000003)",
    "WPScan v3.8.25 (https://wpscan.com/wordpress-security-scanner)",
    "masscan/1.3 (https://github.com/robertdavidgraham/masscan)",
    "Mozilla/5.0 zgrab/0.x",
)


def utc_datetime(t_us: int) -> datetime:
    """The aware UTC datetime of ``t_us`` (for binary login records)."""
    return datetime(1970, 1, 1, tzinfo=timezone.utc) + timedelta(microseconds=t_us)


def _utc(t_us: int) -> time.struct_time:
    return time.gmtime(t_us // US)


def rfc3339(t_us: int) -> str:
    """``2024-02-11T06:25:01.123456+00:00``, as rsyslog writes on Debian 12."""
    s = _utc(t_us)
    return (f"{s.tm_year:04d}-{s.tm_mon:02d}-{s.tm_mday:02d}T{s.tm_hour:02d}:{s.tm_min:02d}:"
            f"{s.tm_sec:02d}.{t_us % US:06d}+00:00")


def clf(t_us: int) -> str:
    """``11/Feb/2024:06:25:01 +0000``, the nginx ``$time_local``."""
    s = _utc(t_us)
    return (f"{s.tm_mday:02d}/{MONTHS[s.tm_mon - 1]}/{s.tm_year:04d}:{s.tm_hour:02d}:"
            f"{s.tm_min:02d}:{s.tm_sec:02d} +0000")


def plain(t_us: int, date_sep: str = "-", middle: str = " ") -> str:
    """``2024-02-11 06:25:01`` (dpkg); ``date_sep='/'`` gives nginx error-log dates."""
    s = _utc(t_us)
    return (f"{s.tm_year:04d}{date_sep}{s.tm_mon:02d}{date_sep}{s.tm_mday:02d}{middle}"
            f"{s.tm_hour:02d}:{s.tm_min:02d}:{s.tm_sec:02d}")


class SecondCache:
    """Memoises a per-second time format: bulk writers call it once per line."""

    def __init__(self, render: Callable[[int], str]) -> None:
        self._render = render
        self._second = -1
        self._text = ""

    def __call__(self, t_us: int) -> str:
        second = t_us // US
        if second != self._second:
            self._second, self._text = second, self._render(t_us)
        return self._text


class Rfc3339Stamp:
    """Fast :func:`rfc3339` for monotonically advancing times (date part cached per second)."""

    def __init__(self) -> None:
        self._head = SecondCache(lambda t: rfc3339(t)[:20])

    def __call__(self, t_us: int) -> str:
        return f"{self._head(t_us)}{t_us % US:06d}+00:00"


# --- syslog family --------------------------------------------------------------------------


def syslog_line(t_us: int, host: str, program: str, pid: int | None, message: str) -> str:
    """One rsyslog line: ``<RFC3339> host program[pid]: message``."""
    tag = program if pid is None else f"{program}[{pid}]"
    return f"{rfc3339(t_us)} {host} {tag}: {message}"


def ssh_failed_password(user: str, ip: str, port: int, invalid: bool) -> str:
    """sshd's ``Failed password`` line (``invalid user`` when the account does not exist)."""
    who = f"invalid user {user}" if invalid else user
    return f"Failed password for {who} from {ip} port {port} ssh2"


def ssh_invalid_user(user: str, ip: str, port: int) -> str:
    """sshd's first line for a login name that does not exist."""
    return f"Invalid user {user} from {ip} port {port}"


def ssh_auth_failure(ip: str, user: str | None) -> str:
    """pam_unix's sshd authentication failure (``user=`` only for existing accounts)."""
    tail = f"  user={user}" if user else ""
    return (f"pam_unix(sshd:auth): authentication failure; logname= uid=0 euid=0 tty=ssh "
            f"ruser= rhost={ip}{tail}")


def ssh_preauth_close(user: str, ip: str, port: int, invalid: bool) -> str:
    """The ``Connection closed … [preauth]`` line ending a failed attempt."""
    who = f"invalid user {user}" if invalid else f"authenticating user {user}"
    return f"Connection closed by {who} {ip} port {port} [preauth]"


def ssh_accepted(method: str, user: str, ip: str, port: int, key: str = "") -> str:
    """sshd's ``Accepted password|publickey`` line."""
    suffix = f": ED25519 SHA256:{key}" if method == "publickey" else ""
    return f"Accepted {method} for {user} from {ip} port {port} ssh2{suffix}"


def ssh_disconnect(user: str, ip: str, port: int) -> str:
    """The end of an sshd session."""
    return f"Disconnected from user {user} {ip} port {port}"


def pam_session(service: str, user: str, uid: int, by: str, by_uid: int, opened: bool) -> str:
    """pam_unix's ``session opened|closed`` line (Debian 12 shape with uids)."""
    if opened:
        return (f"pam_unix({service}:session): session opened for user {user}(uid={uid}) "
                f"by {by}(uid={by_uid})")
    return f"pam_unix({service}:session): session closed for user {user}"


def logind_new_session(session: int, user: str) -> str:
    """systemd-logind's new-session line."""
    return f"New session {session} of user {user}."


def sudo_command(user: str, tty: str, pwd: str, command: str, target: str = "root") -> str:
    """sudo's command line (message part; the header is ``sudo:`` with no pid)."""
    return f"  {user} : TTY={tty} ; PWD={pwd} ; USER={target} ; COMMAND={command}"


def sudo_incorrect(user: str, tty: str, pwd: str, command: str, attempts: int) -> str:
    """sudo's ``incorrect password attempts`` line."""
    return (f"  {user} : {attempts} incorrect password attempt{'s' if attempts > 1 else ''} ; "
            f"TTY={tty} ; PWD={pwd} ; USER=root ; COMMAND={command}")


def pam_auth_failure(service: str, user: str, uid: int, tty: str, target: str) -> str:
    """pam_unix's local authentication failure (sudo, su)."""
    return (f"pam_unix({service}:auth): authentication failure; logname={user} uid={uid} euid=0 "
            f"tty={tty} ruser={user} rhost=  user={target}")


def su_failed(user: str, target: str, tty: str) -> str:
    """su's ``FAILED SU`` line."""
    return f"FAILED SU (to {target}) {user} on {tty}"


def useradd_group(name: str, gid: int) -> str:
    """useradd's ``new group`` line."""
    return f"new group: name={name}, GID={gid}"


def useradd_user(name: str, uid: int, gid: int, home: str, shell: str, tty: str) -> str:
    """useradd's ``new user`` line."""
    return f"new user: name={name}, UID={uid}, GID={gid}, home={home}, shell={shell}, from={tty}"


def usermod_add_group(user: str, group: str, shadow: bool) -> str:
    """usermod's ``add 'user' to [shadow ]group 'group'`` line."""
    return f"add '{user}' to {'shadow ' if shadow else ''}group '{group}'"


def password_changed(service: str, user: str) -> str:
    """pam_unix's chauthtok line (passwd, chpasswd)."""
    return f"pam_unix({service}:chauthtok): password changed for {user}"


def cron_command(user: str, command: str) -> str:
    """cron's ``(user) CMD (command)`` line (goes to syslog)."""
    return f"({user}) CMD ({command})"


def ufw_block(src: str, dst: str, spt: int, dpt: int, ident: int) -> str:
    """A kernel UFW BLOCK line as rsyslog's imklog writes it."""
    return (f"[UFW BLOCK] IN=eth0 OUT= MAC=52:54:00:12:34:56:52:54:00:ab:cd:ef:08:00 SRC={src} "
            f"DST={dst} LEN=44 TOS=0x00 PREC=0x00 TTL=243 ID={ident} PROTO=TCP SPT={spt} "
            f"DPT={dpt} WINDOW=1024 RES=0x00 SYN URGP=0")


# --- web server ------------------------------------------------------------------------------


def access_line(t_us: int, client: str, method: str, uri: str, status: int, size: int,
                referer: str, agent: str) -> str:
    """One nginx ``combined`` access line."""
    return (f'{client} - - [{clf(t_us)}] "{method} {uri} HTTP/1.1" {status} {size} '
            f'"{referer}" "{agent}"')


def nginx_error_line(t_us: int, pid: int, conn: int, message: str, client: str,
                     request: str, level: str = "error") -> str:
    """One nginx error-log line for a client request."""
    return (f'{plain(t_us, "/")} [{level}] {pid}#{pid}: *{conn} {message}, client: {client}, '
            f'server: _, request: "{request}", host: "www.example.org"')


# --- packages ---------------------------------------------------------------------------------


def dpkg_install(t_us: int, package: str, version: str, arch: str = "amd64") -> list[str]:
    """The dpkg.log lines of one fresh package install (unpack, configure, installed)."""
    ts, pkg = plain(t_us), f"{package}:{arch}"
    return [f"{ts} startup archives unpack",
            f"{ts} install {pkg} <none> {version}",
            f"{ts} status half-installed {pkg} {version}",
            f"{ts} status unpacked {pkg} {version}",
            f"{ts} startup packages configure",
            f"{ts} configure {pkg} {version} <none>",
            f"{ts} status unpacked {pkg} {version}",
            f"{ts} status half-configured {pkg} {version}",
            f"{ts} status installed {pkg} {version}"]


def dpkg_upgrade(t_us: int, package: str, old: str, new: str, arch: str = "amd64") -> list[str]:
    """The dpkg.log lines of one package upgrade."""
    ts, pkg = plain(t_us), f"{package}:{arch}"
    return [f"{ts} startup archives unpack",
            f"{ts} upgrade {pkg} {old} {new}",
            f"{ts} status half-configured {pkg} {old}",
            f"{ts} status unpacked {pkg} {old}",
            f"{ts} status half-installed {pkg} {old}",
            f"{ts} status unpacked {pkg} {new}",
            f"{ts} startup packages configure",
            f"{ts} configure {pkg} {new} <none>",
            f"{ts} status half-configured {pkg} {new}",
            f"{ts} status installed {pkg} {new}"]


def apt_history_block(start_us: int, end_us: int, command: str, requested_by: str | None,
                      action: str, packages: str) -> list[str]:
    """One apt ``history.log`` transaction, preceded by its blank separator line."""
    lines = ["", f"Start-Date: {plain(start_us, middle='  ')}", f"Commandline: {command}"]
    if requested_by:
        lines.append(f"Requested-By: {requested_by}")
    lines += [f"{action}: {packages}", f"End-Date: {plain(end_us, middle='  ')}"]
    return lines


def alternatives_lines(t_us: int, name: str, link: str, path: str, priority: int) -> list[str]:
    """update-alternatives' install record and its outcome."""
    head = f"update-alternatives {plain(t_us)}:"
    return [f"{head} run with --install {link} {name} {path} {priority}",
            f"{head} link group {name} updated to point to {path}"]


def postgres_line(t_us: int, pid: int, level: str, message: str, who: str = "") -> str:
    """PostgreSQL 15 with Debian's prefix ``%m [%p] %q%u@%d ``."""
    s = plain(t_us)
    ms = (t_us % US) // 1000
    user_db = f"{who} " if who else ""
    return f"{s}.{ms:03d} UTC [{pid}] {user_db}{level}:  {message}"


# --- auditd ------------------------------------------------------------------------------------


def _audit_value(arg: str) -> str:
    """auditd's encoding of an untrusted string: quoted, or hex when it has odd bytes."""
    if arg and all(0x21 <= ord(c) <= 0x7E and c != '"' for c in arg):
        return f'"{arg}"'
    return arg.encode().hex().upper()


def audit_exec(t_us: int, serial: int, pid: int, ppid: int, auid: int, uid: int, ses: int,
               exe: str, argv: list[str], cwd: str) -> list[str]:
    """The raw audit.log records of one execve: SYSCALL, EXECVE, CWD, PATH, PROCTITLE."""
    stamp = f"msg=audit({t_us // US}.{(t_us % US) // 1000:03d}:{serial}):"
    comm = exe.rsplit("/", 1)[-1][:15]
    args = " ".join(f"a{i}={_audit_value(a)}" for i, a in enumerate(argv))
    return [
        f"type=SYSCALL {stamp} arch=c000003e syscall=59 success=yes exit=0 a0=55d1c0a4b2a0 "
        f"a1=55d1c0a4b310 a2=55d1c0a4b3a8 a3=8 items=2 ppid={ppid} pid={pid} auid={auid} "
        f"uid={uid} gid={uid} euid={uid} suid={uid} fsuid={uid} egid={uid} sgid={uid} "
        f"fsgid={uid} tty=pts0 ses={ses} comm=\"{comm}\" exe=\"{exe}\" "
        f"subj=unconfined key=\"exec\"",
        f"type=EXECVE {stamp} argc={len(argv)} {args}",
        f"type=CWD {stamp} cwd={_audit_value(cwd)}",
        f"type=PATH {stamp} item=0 name=\"{exe}\" inode=1311521 dev=fe:01 mode=0100755 ouid=0 "
        f"ogid=0 rdev=00:00 nametype=NORMAL cap_fp=0 cap_fi=0 cap_fe=0 cap_fver=0 cap_frootid=0",
        f"type=PATH {stamp} item=1 name=\"/lib64/ld-linux-x86-64.so.2\" inode=1317893 dev=fe:01 "
        f"mode=0100755 ouid=0 ogid=0 rdev=00:00 nametype=NORMAL cap_fp=0 cap_fi=0 cap_fe=0 "
        f"cap_fver=0 cap_frootid=0",
        f"type=PROCTITLE {stamp} proctitle={chr(0).join(argv).encode()[:128].hex().upper()}",
    ]
