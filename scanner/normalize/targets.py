"""The remote host an attack tool's command line aims at.

Takes the fields of a derived ``process_creation`` event and, when its image is a
brute-forcer or scanner that attacks other hosts (hydra, medusa, ncrack, patator,
crowbar, wpscan, nmap, masscan, zgrab, nikto, sqlmap; also run as ``python3 x.py``),
adds ``target_host``: the first argument that names a host, an address, a network or a
URL (its host part). Explicit host options (``-h``, ``--url``, ``host=``…) win over
positional arguments, which win over values of other options (``hydra -f 10.0.0.5 ssh``).
Command lines are split on spaces, as sudo and auditd give them (sudo logs no quotes).
Knows no file, route or rule; called by :mod:`scanner.normalize.derive`.
"""

from __future__ import annotations

import ipaddress
import re
from typing import Iterator
from urllib.parse import urlsplit

ATTACK_TOOLS = frozenset({"hydra", "medusa", "ncrack", "patator", "crowbar", "wpscan", "nmap",
                          "masscan", "zgrab", "zgrab2", "nikto", "sqlmap"})
"""Tools (image base names, ``.py``/``.pl`` dropped) whose target is worth naming."""

# Options that name the target outright, in the tools above.
_HOST_OPTIONS = frozenset({"-h", "-host", "--host", "-u", "--url", "-url", "-s", "--server",
                           "--target"})
_HOST_KEYS = ("host=", "url=")  # patator's key=value arguments
_INTERPRETERS = re.compile(r"^(?:python[\d.]*|perl|ruby)$")
_HOSTNAME = re.compile(r"^(?=[^/]*[a-z])[a-z0-9-]+(?:\.[a-z0-9-]+)+(?::\d+)?$", re.I)
_NOT_HOSTS = re.compile(r"\.(?:txt|lst|list|csv|log|json|xml|dic|gz|conf|py|pl|rb)$", re.I)


def with_target(fields: dict[str, str]) -> dict[str, str]:
    """``fields`` of a process event, with ``target_host`` added when the image is an
    attack tool whose command line names a target."""
    command = fields.get("command_line")
    if not command:
        return fields
    target = target_host(command.split())
    return {**fields, "target_host": target} if target else fields


def target_host(argv: list[str]) -> str | None:
    """The host ``argv`` attacks, or ``None`` when it is no attack tool or names none."""
    while argv and _INTERPRETERS.match(_tool(argv[0])):
        argv = argv[1:]
    if not argv or _tool(argv[0]) not in ATTACK_TOOLS:
        return None
    for candidate in _candidates(argv[1:]):
        host = _host(candidate)
        if host:
            return host
    return None


def _tool(arg: str) -> str:
    name = arg.rsplit("/", 1)[-1]
    return re.sub(r"\.(?:py|pl|rb)$", "", name)


def _candidates(args: list[str]) -> Iterator[str]:
    """Arguments that may name the target, most telling first."""
    explicit, positional, values = [], [], []
    taken = False
    for i, arg in enumerate(args):
        if taken:
            taken = False
            (explicit if args[i - 1] in _HOST_OPTIONS else values).append(arg)
        elif arg.startswith("-"):
            option, eq, value = arg.partition("=")
            if eq:
                (explicit if option in _HOST_OPTIONS else values).append(value)
            else:
                taken = i + 1 < len(args) and not args[i + 1].startswith("-")
        elif arg.startswith(_HOST_KEYS):
            explicit.append(arg.split("=", 1)[1])
        else:
            positional.append(arg)
    yield from explicit
    yield from positional
    yield from values


def _host(text: str) -> str | None:
    """The host ``text`` names (a URL's host, an address, a network, a host name)."""
    if "://" in text:
        return urlsplit(text).hostname or None
    try:
        return str(ipaddress.ip_network(text, strict=False)) if "/" in text else str(
            ipaddress.ip_address(text))
    except ValueError:
        pass
    if _HOSTNAME.match(text) and not _NOT_HOSTS.search(text):
        return text
    return None
