"""Find the log files under the scanned paths, read-only, and group them into rotation chains.

:func:`walk` takes files and directories and returns every regular file under them as a
:class:`~scanner.model.SourceFile`, sorted by ``source``. It never writes, never changes
times (directories and files are opened with ``O_NOATIME`` when permitted) and never
raises: an unreadable directory or file, a FIFO, socket or device, a dangling symlink, a
symlink loop, a symlink leading out of the scanned tree, a zstd file (no decoder in
Python 3.11) and an archive (tar, zip, tar.gz: files, not a log) each become one
``source`` problem and the walk goes on. A symlink whose target lies inside the tree is
not followed either: the target is listed under its own path, so nothing is read twice
(nor is a file reached through a hard link or two overlapping roots). Empty files are
listed. ``source`` is the path relative to the scanned root (a file given directly: its
name); when several roots would yield the same ``source``, each file of those roots is
prefixed with its root's name (the directory's name, or the parent's name for a file
given directly), or with the root path as given when those names clash too. Rotated
names (``auth.log.1``, ``auth.log.2.gz``, ``auth.log-20240101[.gz]``) share the chain of
their live file (``auth.log``); ``chain_index`` is 0 for the live file and counts up with age.
"""

from __future__ import annotations

import os
import re
import stat
from collections import Counter, defaultdict
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Sequence

from scanner.errors import Location, Problems, SourceError
from scanner.model import SourceFile
from scanner.sources.open import open_noatime, probe

_COMPRESSED = re.compile(r"\.(?:gz|bz2|xz|zst)$")
_NUMBERED = re.compile(r"^(?P<base>.+)\.(?P<n>\d{1,4})$")
_DATED = re.compile(r"^(?P<base>.+)-(?P<date>\d{8}(?:\d{2})?)$")
_SPECIAL = {stat.S_IFIFO: "FIFO", stat.S_IFSOCK: "socket", stat.S_IFCHR: "character device",
            stat.S_IFBLK: "block device"}


@dataclass(frozen=True, slots=True)
class _Root:
    """One scanned path: the directory sources are relative to, and its labels for prefixes."""

    given: Path
    base: Path  # the directory itself, or the parent of a file given directly
    name: str


@dataclass(frozen=True, slots=True)
class _Found:
    root: _Root
    path: Path
    relative: str
    size: int
    mtime: float


def walk(paths: Sequence[Path], problems: Problems) -> list[SourceFile]:
    """Every regular file under ``paths``, read-only, sorted by ``source`` (see module doc)."""
    seen: set[tuple[int, int]] = set()
    found: list[_Found] = []
    for given in paths:
        found.extend(_walk_root(Path(given), seen, problems))
    files: list[SourceFile] = []
    for item, source in zip(found, _unique_sources(found)):
        file = SourceFile(path=item.path, root=item.root.base, source=source, size=item.size,
                          mtime=item.mtime)
        try:
            compression, archive = probe(file)
        except SourceError as exc:
            problems.add("source", Location(source), exc.message)
            continue
        if archive:
            problems.add("source", Location(source), f"{archive} archive, not a log: skipped")
            continue
        files.append(replace(file, compression=compression))
    return _with_chains(sorted(files, key=lambda f: f.source))


def _walk_root(given: Path, seen: set[tuple[int, int]], problems: Problems) -> list[_Found]:
    try:
        st = given.stat()
    except OSError as exc:
        problems.add("source", Location(str(given)), f"cannot read: {exc.strerror or exc}")
        return []
    if stat.S_ISDIR(st.st_mode):
        if (st.st_dev, st.st_ino) in seen:
            return []
        seen.add((st.st_dev, st.st_ino))
        root = _Root(given, given, given.resolve().name or str(given))
        return _walk_dir(root, seen, problems)
    root = _Root(given, given.parent, given.resolve().parent.name or str(given.parent))
    return _regular(root, given, given.name, st, seen, problems)


def _walk_dir(root: _Root, seen: set[tuple[int, int]], problems: Problems) -> list[_Found]:
    real_root = os.path.realpath(root.given)
    found: list[_Found] = []
    pending = [""]
    while pending:
        relative = pending.pop()
        directory = root.given / relative if relative else root.given
        try:
            entries = _list_dir(directory)
        except OSError as exc:
            problems.add("source", Location(relative or str(root.given)),
                         f"cannot read directory: {exc.strerror or exc}")
            continue
        subdirs: list[str] = []
        for name, st in entries:
            rel = f"{relative}/{name}" if relative else name
            path = directory / name
            if stat.S_ISLNK(st.st_mode):
                _check_symlink(path, rel, real_root, problems)
            elif stat.S_ISDIR(st.st_mode):
                if (st.st_dev, st.st_ino) not in seen:
                    seen.add((st.st_dev, st.st_ino))
                    subdirs.append(rel)
            else:
                found.extend(_regular(root, path, rel, st, seen, problems))
        pending.extend(reversed(subdirs))
    return found


def _list_dir(directory: Path) -> list[tuple[str, os.stat_result]]:
    """``(name, lstat)`` of each entry, sorted by name, without touching the directory's atime."""
    fd = open_noatime(directory, os.O_RDONLY | os.O_DIRECTORY | getattr(os, "O_CLOEXEC", 0))
    try:
        with os.scandir(fd) as entries:
            return sorted((e.name, e.stat(follow_symlinks=False)) for e in entries)
    finally:
        os.close(fd)


def _check_symlink(path: Path, rel: str, real_root: str, problems: Problems) -> None:
    """Record why a symlink is not followed, unless its target is walked anyway."""
    try:
        path.stat()
    except OSError as exc:
        problems.add("source", Location(rel), f"symlink not followed: {exc.strerror or exc}")
        return
    target = os.path.realpath(path)
    if os.path.commonpath([real_root, target]) != real_root:
        problems.add("source", Location(rel),
                     f"symlink leads out of the scanned tree (to {target}): not followed")
    elif os.path.isdir(target) and os.path.commonpath(
            [target, os.path.realpath(path.parent)]) == target:
        problems.add("source", Location(rel),
                     f"symlink loop (to its own ancestor {target}): not followed")


def _regular(root: _Root, path: Path, rel: str, st: os.stat_result,
             seen: set[tuple[int, int]], problems: Problems) -> list[_Found]:
    kind = _SPECIAL.get(stat.S_IFMT(st.st_mode))
    if kind:
        problems.add("source", Location(rel), f"{kind} skipped: not a regular file")
        return []
    if (st.st_dev, st.st_ino) in seen:
        return []
    seen.add((st.st_dev, st.st_ino))
    return [_Found(root, path, rel, st.st_size, st.st_mtime)]


def _unique_sources(found: Sequence[_Found]) -> list[str]:
    """``relative`` of each file, prefixed with a root label where roots would clash."""
    clashing = Counter(item.relative for item in found)
    prefixed = {item.root for item in found if clashing[item.relative] > 1}
    names = Counter(root.name for root in prefixed)

    def label(root: _Root) -> str:
        return root.name if names[root.name] == 1 else root.given.as_posix().lstrip("/")

    return [f"{label(item.root)}/{item.relative}" if item.root in prefixed else item.relative
            for item in found]


def rotation_of(source: str) -> tuple[str, tuple[int, int]] | None:
    """``(live name, age key)`` of a rotated file's source, or ``None`` for a live file.

    The key is ``(0, n)`` for a numbered member (``auth.log.2.gz``) and ``(1, -date)``
    for a dated one (``auth.log-20240101``), so sorting keys orders members newest first.
    """
    head, _, name = source.rpartition("/")
    stem = _COMPRESSED.sub("", name)
    prefix = f"{head}/" if head else ""
    if match := _NUMBERED.match(stem):
        return prefix + match["base"], (0, int(match["n"]))
    if match := _DATED.match(stem):
        return prefix + match["base"], (1, -int(match["date"].ljust(10, "0")))
    return None


def _with_chains(files: list[SourceFile]) -> list[SourceFile]:
    """``files`` with ``chain`` and ``chain_index`` set (index = 1 + age rank among rotated)."""
    rotated: dict[str, list[tuple[tuple[int, int], int]]] = defaultdict(list)
    chained = list(files)
    for position, file in enumerate(files):
        rotation = rotation_of(file.source)
        if rotation is None:
            chained[position] = replace(file, chain=_COMPRESSED.sub("", file.source), chain_index=0)
        else:
            rotated[rotation[0]].append((rotation[1], position))
    for chain, members in rotated.items():
        for rank, (_, position) in enumerate(sorted(members), start=1):
            chained[position] = replace(files[position], chain=chain, chain_index=rank)
    return chained


def rotation_chains(files: Sequence[SourceFile]) -> list[list[SourceFile]]:
    """``files`` grouped by rotation chain, each chain oldest → newest, chains by name."""
    chains: dict[str, list[SourceFile]] = defaultdict(list)
    for file in files:
        chains[file.chain or file.source].append(file)
    return [sorted(members, key=lambda f: (-f.chain_index, f.mtime, f.source))
            for _, members in sorted(chains.items())]
