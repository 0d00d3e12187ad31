"""Deterministic generator of a realistic Debian 12 ``/var/log`` tree for benchmarks.

``python bench/generate.py --size 1G --out DIR`` writes DIR as a copy of
``/var/log``: ~55 % nginx access (combined, ~2 % attack traffic), ~30 % auth.log
(brute force, logins, sudo, cron), ~10 % syslog/kern.log, the rest dpkg, apt
history, alternatives, PostgreSQL and nginx error logs, plus binary wtmp/btmp
(encoded by ``scanner.normalize.utmp.encode_utmp``). Rotated chains have a live
file, ``.1`` and ``.2.gz``; ``--size`` counts uncompressed bytes. ``--worst``
writes only an auth.log of pure brute force (every line a rule candidate). The same
seed and size give the same bytes: every pool line is rendered once from
:mod:`synth` and the bulk is drawn from pools in large batches, so 1 GB takes
well under two minutes. Output only; never reads logs.
"""

from __future__ import annotations

import argparse
import gzip
import os
import random
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

import synth
from scanner.normalize.utmp import encode_utmp

END_US = 1_707_632_700 * synth.US  # 2024-02-11T06:25:00Z: the newest line of every tree
DAY_US = 86_400 * synth.US
SENTINEL_US = 1_600_000_000 * synth.US  # 2020-09-13T12:26:40Z, a time no pool line contains
BATCH = 8192
HOST = "web01"
SERVER_IP = "192.0.2.10"

Stamp = Callable[[int], str]
Piece = tuple[str, str | None]  # a line is pre + stamp(t) + post; post None: pre alone
Item = tuple[Piece, ...]  # lines always written together (a session, a burst)
Renderer = Callable[[int], "str | list[str]"]
Maker = Callable[[random.Random], Renderer]


@dataclass(frozen=True)
class Pool:
    """Line groups of one format, drawn uniformly, and the stamp that dates them."""

    items: list[Item]
    stamp: Stamp

    def mean_item_bytes(self) -> float:
        """Average bytes (with newlines) of one item."""
        stamp_len = len(self.stamp(SENTINEL_US))
        return sum(len(pre) + (stamp_len + len(post) if post is not None else 0) + 1
                   for item in self.items for pre, post in item) / len(self.items)

    def mean_item_lines(self) -> float:
        """Average lines of one item."""
        return sum(len(item) for item in self.items) / len(self.items)


@dataclass(frozen=True)
class Chain:
    """A rotation chain: relative path, share of the tree, members, rotation period, pool."""

    path: str
    share: float
    members: int
    period_us: int
    pool: str


def parse_size(text: str) -> int:
    """``1G``, ``100M``, ``64K`` or a byte count → bytes."""
    units = {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30}
    text = text.strip().upper().removesuffix("B")
    if text and text[-1] in units:
        return int(float(text[:-1]) * units[text[-1]])
    return int(text)


def split_template(render: Renderer, stamp: Stamp) -> Item:
    """Render lines at the sentinel time and split each around its time stamp."""
    out = render(SENTINEL_US)
    marker = stamp(SENTINEL_US)
    pieces: list[Piece] = []
    for line in [out] if isinstance(out, str) else out:
        pre, found, post = line.partition(marker)
        pieces.append((pre, post) if found else (line, None))
    return tuple(pieces)


def make_pool(rng: random.Random, stamp: Stamp, makers: Sequence[tuple[float, Maker]],
              size: int = 1500) -> Pool:
    """``size`` items, each from a maker drawn by weight."""
    weights = [w for w, _ in makers]
    chosen = rng.choices([m for _, m in makers], weights=weights, k=size)
    return Pool([split_template(maker(rng), stamp) for maker in chosen], stamp)


# --- random values -------------------------------------------------------------------------

USERS = ("deploy", "alice", "bob", "backup", "ci")
BASE64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
PROBE_USERS = ("admin", "test", "user", "oracle", "postgres", "ubuntu", "git", "ftpuser",
               "support", "guest", "pi", "hadoop", "ansible", "minecraft", "steam", "root")


def client_ip(rng: random.Random) -> str:
    """A benign client address (TEST-NET-1 and the 10/8 office range)."""
    if rng.random() < 0.5:
        return f"192.0.2.{rng.randint(20, 254)}"
    return f"10.1.{rng.randint(0, 9)}.{rng.randint(2, 254)}"


def attacker_ip(rng: random.Random) -> str:
    """An attacker address from TEST-NET-2/3."""
    return f"{rng.choice(('198.51.100', '203.0.113'))}.{rng.randint(1, 254)}"


def syslog(program: str, pid: int | None, message: str) -> Callable[[int], str]:
    """A renderer of one syslog line from this tree's host."""
    return lambda t: synth.syslog_line(t, HOST, program, pid, message)


def lines(*renderers: Callable[[int], str]) -> Renderer:
    """Combine single-line renderers into one item."""
    return lambda t: [r(t) for r in renderers]


# --- auth.log ------------------------------------------------------------------------------


def ssh_failures(rng: random.Random, attempts: int, noise: bool) -> Renderer:
    """Failed ssh password attempts from one address (invalid users and root).

    With ``noise`` each attempt has every line sshd writes (``Invalid user``, ``Connection
    closed``); without, only the pam ``authentication failure`` and ``Failed password`` lines.
    """
    ip, out = attacker_ip(rng), []
    for _ in range(attempts):
        pid, port = rng.randint(2000, 65000), rng.randint(30000, 65000)
        user = rng.choice(PROBE_USERS)
        invalid = user != "root"
        if noise and invalid:
            out.append(syslog("sshd", pid, synth.ssh_invalid_user(user, ip, port)))
        out += [syslog("sshd", pid, synth.ssh_auth_failure(ip, None if invalid else user)),
                syslog("sshd", pid, synth.ssh_failed_password(user, ip, port, invalid))]
        if noise:
            out.append(syslog("sshd", pid, synth.ssh_preauth_close(user, ip, port, invalid)))
    return lines(*out)


def brute_force(rng: random.Random) -> Renderer:
    """A burst of 8-40 failed ssh logins from one address."""
    return ssh_failures(rng, rng.randint(8, 40), noise=True)


def pure_brute_force(rng: random.Random) -> Renderer:
    """Worst case: 10-50 attempts of only rule-candidate lines."""
    return ssh_failures(rng, rng.randint(10, 50), noise=False)


def ssh_session(rng: random.Random) -> Renderer:
    """A normal key-based login, its pam/logind lines and its logout."""
    user, ip = rng.choice(USERS), client_ip(rng)
    pid, port = rng.randint(2000, 65000), rng.randint(30000, 65000)
    uid, sess = 1000 + USERS.index(user), rng.randint(1, 9999)
    key = "".join(rng.choice(BASE64) for _ in range(43))
    return lines(syslog("sshd", pid, synth.ssh_accepted("publickey", user, ip, port, key)),
                 syslog("sshd", pid, synth.pam_session("sshd", user, uid, "", 0, True)),
                 syslog("systemd-logind", 512, synth.logind_new_session(sess, user)),
                 syslog("sshd", pid, synth.ssh_disconnect(user, ip, port)),
                 syslog("sshd", pid, synth.pam_session("sshd", user, uid, "", 0, False)),
                 syslog("systemd-logind", 512,
                        f"Session {sess} logged out. Waiting for processes to exit."))


SUDO_COMMANDS = ("/usr/bin/apt update", "/usr/bin/systemctl restart nginx",
                 "/usr/bin/journalctl -u nginx", "/usr/bin/tail -n 100 /var/log/nginx/error.log",
                 "/usr/sbin/nginx -t", "/usr/bin/docker ps")


def sudo_use(rng: random.Random) -> Renderer:
    """A sudo command with its pam session lines."""
    user = rng.choice(USERS)
    uid = 1000 + USERS.index(user)
    command = rng.choice(SUDO_COMMANDS)
    return lines(syslog("sudo", None, synth.sudo_command(user, "pts/0", f"/home/{user}", command)),
                 syslog("sudo", None, synth.pam_session("sudo", "root", 0, user, uid, True)),
                 syslog("sudo", None, synth.pam_session("sudo", "root", 0, user, uid, False)))


def cron_session(rng: random.Random) -> Renderer:
    """CRON's pam session pair in auth.log."""
    pid = rng.randint(2000, 65000)
    return lines(syslog("CRON", pid, synth.pam_session("cron", "root", 0, "", 0, True)),
                 syslog("CRON", pid, synth.pam_session("cron", "root", 0, "", 0, False)))


def account_change(rng: random.Random) -> Renderer:
    """A benign new account with an ordinary uid, and its password set."""
    name, uid = f"svc{rng.randint(10, 99)}", rng.randint(1001, 1999)
    pid = rng.randint(2000, 65000)
    return lines(syslog("groupadd", pid, synth.useradd_group(name, uid)),
                 syslog("useradd", pid, synth.useradd_user(name, uid, uid, f"/home/{name}",
                                                           "/bin/bash", "/dev/pts/0")),
                 syslog("passwd", pid + 1, synth.password_changed("passwd", name)))


# --- nginx ---------------------------------------------------------------------------------

PAGES = ("/", "/index.html", "/about/", "/blog/", "/blog/2024/01/hello-world/", "/contact/",
         "/shop/", "/shop/item/1042", "/search?q=linux+logs", "/feed/", "/robots.txt",
         "/sitemap.xml")
ASSETS = ("/static/css/site.css", "/static/js/app.js", "/static/img/logo.png", "/favicon.ico",
          "/static/fonts/inter.woff2")
PROBES = ("/.env", "/.git/config", "/phpmyadmin/", "/admin/config.php", "/cgi-bin/luci",
          "/index.php?id=1%27%20UNION%20SELECT%20NULL,version()--%20-",
          "/products.php?cat=1%20order%20by%2010--",
          "/cgi-bin/.%2e/.%2e/.%2e/.%2e/etc/passwd", "/download?file=../../../../etc/passwd",
          "/?s=%3Cscript%3Ealert(1)%3C/script%3E")


def page_view(rng: random.Random) -> Renderer:
    """A browser fetching a page and a few of its assets."""
    ip, agent, page = client_ip(rng), rng.choice(synth.BROWSER_AGENTS), rng.choice(PAGES)
    status, size = rng.choice((200, 200, 200, 200, 304, 404)), rng.randint(300, 40000)
    ref = f"https://www.example.org{page}"
    assets = [(a, rng.randint(500, 90000)) for a in rng.sample(ASSETS, rng.randint(0, 3))]
    return lambda t: [synth.access_line(t, ip, "GET", page, status, size, "-", agent)] + [
        synth.access_line(t, ip, "GET", a, 200, n, ref, agent) for a, n in assets]


def wp_login_burst(rng: random.Random) -> Renderer:
    """A burst of WordPress login POSTs (and xmlrpc) from one client."""
    ip, agent = attacker_ip(rng), rng.choice(synth.BROWSER_AGENTS)
    uri = rng.choice(("/wp-login.php", "/xmlrpc.php"))
    return lines(*[lambda t: synth.access_line(t, ip, "POST", uri, 200, 4321, "-", agent)
                   for _ in range(rng.randint(10, 40))])


def scanner_probe(rng: random.Random) -> Renderer:
    """A vulnerability scanner (known user agent) walking probe paths."""
    ip, agent = attacker_ip(rng), rng.choice(synth.SCANNER_AGENTS)
    return lines(*[lambda t, p=p: synth.access_line(t, ip, "GET", p, 404, 153, "-", agent)
                   for p in rng.sample(PROBES, rng.randint(3, len(PROBES)))])


def nginx_error(rng: random.Random) -> Callable[[int], str]:
    """An nginx ``open() failed`` error for a missing file."""
    path = rng.choice(("/favicon.ico", "/wp-login.php", "/.env", "/apple-touch-icon.png",
                       "/ads.txt"))
    ip = rng.choice((client_ip, attacker_ip))(rng)
    pid, conn = rng.randint(800, 900), rng.randint(1, 99999)
    return lambda t: synth.nginx_error_line(
        t, pid, conn, f'open() "/var/www/html{path}" failed (2: No such file or directory)', ip,
        f"GET {path} HTTP/1.1")


# --- syslog, kern.log ---------------------------------------------------------------------

SYSTEMD_MESSAGES = (
    "Starting apt-daily.service - Daily apt download activities...",
    "Finished apt-daily.service - Daily apt download activities.",
    "Starting logrotate.service - Rotate log files...",
    "logrotate.service: Deactivated successfully.",
    "Started session-4.scope - Session 4 of User deploy.",
    "Starting systemd-tmpfiles-clean.service - Cleanup of Temporary Directories...",
    "phpsessionclean.service: Deactivated successfully.",
)
CRON_COMMANDS = (
    "[ -x /usr/lib/php/sessionclean ] && /usr/lib/php/sessionclean",
    "cd / && run-parts --report /etc/cron.hourly",
    "test -x /usr/sbin/anacron || { cd / && run-parts --report /etc/cron.daily; }",
)
KERNEL_MESSAGES = (
    "EXT4-fs (vda1): re-mounted. Opts: errors=remount-ro. Quota mode: none.",
    'audit: type=1400 audit(1707600000.000:42): apparmor="STATUS" operation="profile_replace"',
    "TCP: request_sock_TCP: Possible SYN flooding on port 443. Sending cookies.",
)


def syslog_message(rng: random.Random) -> Callable[[int], str]:
    """A routine syslog line: systemd units, cron jobs, time sync, dhcp."""
    choice = rng.randint(0, 3)
    if choice == 0:
        return syslog("systemd", 1, rng.choice(SYSTEMD_MESSAGES))
    if choice == 1:
        return syslog("CRON", rng.randint(2000, 65000),
                      synth.cron_command("root", rng.choice(CRON_COMMANDS)))
    if choice == 2:
        return syslog("systemd-timesyncd", 401, "Initial synchronization to time server "
                      "192.0.2.123:123 (0.debian.pool.ntp.org).")
    xid = rng.randint(0, 2**31)
    return syslog("dhclient", 388, f"DHCPACK of {SERVER_IP} from 192.0.2.1 (xid=0x{xid:08x})")


def kernel_message(rng: random.Random) -> Callable[[int], str]:
    """A kernel line: mostly UFW blocks of scanning traffic."""
    if rng.random() < 0.85:
        port = rng.choice((23, 445, 3389, 5900, 8080, 6379))
        return syslog("kernel", None, synth.ufw_block(
            attacker_ip(rng), SERVER_IP, rng.randint(1024, 65000), port, rng.randint(1, 65535)))
    return syslog("kernel", None, rng.choice(KERNEL_MESSAGES))


# --- packages, database ---------------------------------------------------------------------

PACKAGES = (("curl", "7.88.1-10+deb12u5"), ("vim", "2:9.0.1378-2"), ("htop", "3.2.2-2"),
            ("libssl3", "3.0.11-1~deb12u2"), ("tzdata", "2024a-0+deb12u1"), ("nginx", "1.22.1-9"))


def dpkg_item(rng: random.Random) -> Renderer:
    """One package install in dpkg.log."""
    name, version = rng.choice(PACKAGES)
    return lambda t: synth.dpkg_install(t, name, version)


def apt_item(rng: random.Random) -> Renderer:
    """One apt transaction in history.log."""
    name, version = rng.choice(PACKAGES)
    return lambda t: synth.apt_history_block(t, t, f"apt-get -y install {name}", None, "Upgrade",
                                             f"{name}:amd64 ({version}, {version})")


def alternatives_item(rng: random.Random) -> Renderer:
    """One update-alternatives install."""
    name, path = rng.choice((("editor", "/usr/bin/vim.basic"), ("pager", "/usr/bin/less"),
                             ("vi", "/usr/bin/vim.basic")))
    return lambda t: synth.alternatives_lines(t, name, f"/usr/bin/{name}", path, 30)


def postgres_item(rng: random.Random) -> Renderer:
    """A checkpoint, a client connection or a failed password."""
    pid, kind = rng.randint(1000, 60000), rng.randint(0, 2)
    if kind == 0:
        return lambda t: [
            synth.postgres_line(t, 612, "LOG", "checkpoint starting: time"),
            synth.postgres_line(t, 612, "LOG", "checkpoint complete: wrote 12 buffers (0.1%); "
                                "0 WAL file(s) added, 0 removed, 0 recycled")]
    if kind == 1:
        return lambda t: [synth.postgres_line(
            t, pid, "LOG", "connection authorized: user=app database=app", "app@app")]
    hba = (f'Connection matched pg_hba.conf line 100: "host all all {attacker_ip(rng)}/32 '
           'scram-sha-256"')
    return lambda t: [
        synth.postgres_line(t, pid, "FATAL", 'password authentication failed for user "postgres"',
                            "postgres@postgres"),
        synth.postgres_line(t, pid, "DETAIL", hba, "postgres@postgres")]


# --- the tree ------------------------------------------------------------------------------

CHAINS = (
    Chain("nginx/access.log", 0.55, 3, DAY_US, "access"),
    Chain("auth.log", 0.30, 3, 7 * DAY_US, "auth"),
    Chain("syslog", 0.07, 3, 7 * DAY_US, "syslog"),
    Chain("kern.log", 0.03, 2, 7 * DAY_US, "kern"),
    Chain("postgresql/postgresql-15-main.log", 0.015, 2, 7 * DAY_US, "postgres"),
    Chain("nginx/error.log", 0.01, 2, DAY_US, "nginx_error"),
    Chain("dpkg.log", 0.008, 2, 30 * DAY_US, "dpkg"),
    Chain("apt/history.log", 0.005, 2, 30 * DAY_US, "apt"),
    Chain("alternatives.log", 0.002, 1, 30 * DAY_US, "alternatives"),
)
WORST_CHAINS = (Chain("auth.log", 1.0, 1, 7 * DAY_US, "worst"),)


def pool_specs() -> dict[str, tuple[Stamp, list[tuple[float, Maker]]]]:
    """Each pool's stamp and weighted makers (the weights set the traffic mix)."""
    rfc = synth.Rfc3339Stamp()
    dpkg_stamp = synth.SecondCache(synth.plain)
    return {
        "auth": (rfc, [(3, brute_force), (10, ssh_session), (14, sudo_use), (30, cron_session),
                       (0.3, account_change)]),
        "worst": (rfc, [(1, pure_brute_force)]),
        "access": (synth.SecondCache(synth.clf),
                   [(200, page_view), (1, wp_login_burst), (1.5, scanner_probe)]),
        "nginx_error": (synth.SecondCache(lambda t: synth.plain(t, "/")), [(1, nginx_error)]),
        "syslog": (rfc, [(1, syslog_message)]),
        "kern": (rfc, [(1, kernel_message)]),
        "postgres": (lambda t: f"{dpkg_stamp(t)}.{(t % synth.US) // 1000:03d}",
                     [(1, postgres_item)]),
        "dpkg": (dpkg_stamp, [(1, dpkg_item)]),
        "apt": (synth.SecondCache(lambda t: synth.plain(t, middle="  ")), [(1, apt_item)]),
        "alternatives": (dpkg_stamp, [(1, alternatives_item)]),
    }


def build_pools(rng: random.Random, names: set[str]) -> dict[str, Pool]:
    """The pools named, built in a fixed order so a seed always gives the same lines."""
    return {name: make_pool(rng, stamp, makers)
            for name, (stamp, makers) in pool_specs().items() if name in names}


def member_name(path: str, index: int) -> str:
    """Debian logrotate naming: live file, ``.1``, then ``.N.gz``."""
    return path if index == 0 else f"{path}.{index}" + (".gz" if index >= 2 else "")


def write_member(path: Path, pool: Pool, rng: random.Random, start_us: int, end_us: int,
                 target: int) -> None:
    """Write about ``target`` bytes of ``pool`` lines dated evenly over [start, end)."""
    item_bytes, item_lines = pool.mean_item_bytes(), pool.mean_item_lines()
    expected_lines = max(1.0, target / item_bytes * item_lines)
    step = max(1, int((end_us - start_us) / expected_lines))
    last = end_us - 1  # a short estimate must not run into the next member's period
    jitter = [rng.randrange(step) for _ in range(1024)]
    stamp, written, i = pool.stamp, 0, 0
    with open(path, "wb") as raw:
        out = (gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=end_us // synth.US)
               if path.suffix == ".gz" else raw)
        while written < target:
            batch: list[str] = []
            count = min(BATCH, max(4, int((target - written) / item_bytes) + 1))
            for item in rng.choices(pool.items, k=count):
                for pre, post in item:
                    t = min(start_us + i * step + jitter[i & 1023], last)
                    batch.append(pre if post is None else pre + stamp(t) + post)
                    i += 1
            data = ("\n".join(batch) + "\n").encode()
            if written + len(data) > target:
                cut = data.rfind(b"\n", 0, target - written) + 1
                data = data[:cut or data.index(b"\n") + 1]
            out.write(data)
            written += len(data)
        if out is not raw:
            out.close()
    os.utime(path, (end_us / synth.US, end_us / synth.US))


def login_sessions(rng: random.Random, count: int) -> list[dict[str, object]]:
    """wtmp records: a boot, then ssh logins and their logouts over the last week."""
    start = END_US - 7 * DAY_US
    records: list[dict[str, object]] = [
        {"type": "BOOT_TIME", "pid": 0, "tty": "~", "id": "~~", "user": "reboot",
         "host": "6.1.0-18-amd64", "time": synth.utc_datetime(start)}]
    for t in sorted(rng.randrange(start, END_US) for _ in range(count)):
        user, ip, n = rng.choice(USERS), client_ip(rng), rng.randint(0, 3)
        pid = rng.randint(2000, 65000)
        tty = {"tty": f"pts/{n}", "id": f"ts/{n}", "pid": pid}
        records += [{"type": "USER_PROCESS", "user": user, "host": ip, "src_ip": ip,
                     "time": synth.utc_datetime(t), **tty},
                    {"type": "DEAD_PROCESS", "time": synth.utc_datetime(t + 600 * synth.US), **tty}]
    return records


def failed_logins(rng: random.Random, count: int) -> list[dict[str, object]]:
    """btmp records: sshd's failed attempts (LOGIN_PROCESS on ``ssh:notty``)."""
    start, records = END_US - 7 * DAY_US, []
    for t in sorted(rng.randrange(start, END_US) for _ in range(count)):
        ip = attacker_ip(rng)
        records.append({"type": "LOGIN_PROCESS", "pid": rng.randint(2000, 65000),
                        "tty": "ssh:notty", "user": rng.choice(PROBE_USERS), "host": ip,
                        "src_ip": ip, "time": synth.utc_datetime(t)})
    return records


def write_login_records(out: Path, rng: random.Random, count: int) -> list[Path]:
    """wtmp (sessions) and btmp (failed logins), encoded by the scanner's utmp codec."""
    written = []
    sets = (("wtmp", login_sessions(rng, count)), ("btmp", failed_logins(rng, count)))
    for name, records in sets:
        (out / name).write_bytes(b"".join(encode_utmp(r) for r in records))
        os.utime(out / name, (END_US / synth.US, END_US / synth.US))
        written.append(Path(name))
    return written


def generate(out: Path, size: int, seed: int = 7, worst: bool = False) -> list[Path]:
    """Write the tree under ``out``; returns the files written, relative to ``out``."""
    rng = random.Random(seed)
    chains = WORST_CHAINS if worst else CHAINS
    pools = build_pools(rng, {chain.pool for chain in chains})
    written: list[Path] = []
    for chain in chains:
        per_member = int(size * chain.share / chain.members)
        for index in range(chain.members):
            rel = Path(member_name(chain.path, index))
            (out / rel).parent.mkdir(parents=True, exist_ok=True)
            end = END_US - index * chain.period_us
            write_member(out / rel, pools[chain.pool], rng, end - chain.period_us, end, per_member)
            written.append(rel)
    if not worst:
        written += write_login_records(out, rng, max(4, size // 200_000))
    return written


def main(argv: Sequence[str] | None = None) -> int:
    """Command line: ``generate.py --size 1G --out DIR [--seed N] [--worst]``."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", default="100M", help="total size, e.g. 1G, 100M (default 100M)")
    parser.add_argument("--out", type=Path, required=True,
                        help="directory to write (a /var/log copy)")
    parser.add_argument("--seed", type=int, default=7, help="random seed (default 7)")
    parser.add_argument("--worst", action="store_true", help="pure brute-force auth.log only")
    args = parser.parse_args(argv)
    files = generate(args.out, parse_size(args.size), args.seed, args.worst)
    total = sum((args.out / f).stat().st_size for f in files)
    print(f"wrote {len(files)} files, {total / 1e6:.1f} MB on disk, under {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
