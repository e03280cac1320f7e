"""Atomic outputs: write into a temporary sibling, then rename, so a kill never leaves a partial file or dir."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from expo.errors import ExpoError


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _tmp_sibling(path: Path, suffix: str = "") -> Path:
    """An empty temp file beside ``path`` with the mode a plain open() would give (mkstemp makes 0600)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=f".tmp{suffix}", dir=path.parent)
    os.fchmod(fd, 0o666 & ~_umask())
    os.close(fd)
    return Path(name)


@contextlib.contextmanager
def atomic_file(path: str | os.PathLike, mode: str = "w", encoding: str | None = "utf-8") -> Iterator[Any]:
    """Open a temp file beside ``path``; on success fsync and rename it to ``path``; on error remove it."""
    path = Path(path)
    tmp = _tmp_sibling(path)
    try:
        kwargs = {} if "b" in mode else {"encoding": encoding}
        with open(tmp, mode, **kwargs) as fh:
            yield fh
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def write_text(path: str | os.PathLike, text: str) -> None:
    with atomic_file(path) as fh:
        fh.write(text)


def write_json(path: str | os.PathLike, obj: Any, indent: int | None = 2) -> None:
    with atomic_file(path) as fh:
        json.dump(obj, fh, indent=indent, ensure_ascii=False)
        fh.write("\n")


def write_jsonl(path: str | os.PathLike, rows: list[dict]) -> None:
    with atomic_file(path) as fh:
        for row in rows:
            fh.write(json.dumps(row, ensure_ascii=False) + "\n")


def write_lines(path: str | os.PathLike, values: list) -> None:
    with atomic_file(path) as fh:
        for value in values:
            fh.write(f"{value}\n")


@contextlib.contextmanager
def atomic_dir(path: str | os.PathLike, force: bool = False) -> Iterator[Path]:
    """Yield a temp dir beside ``path``; on success rename it to ``path``; on any error delete it.

    ``path`` must not exist unless ``force`` (then it is replaced only after the new one is complete).
    """
    path = Path(path)
    if path.exists() and not force:
        raise ExpoError(f"output {path} already exists (use --force to replace it)")
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent))
    os.chmod(tmp, 0o777 & ~_umask())
    try:
        yield tmp
        if path.exists():
            old = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".old", dir=path.parent))
            os.replace(path, old / "x")
            os.replace(tmp, path)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, path)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def check_free_space(directory: str | os.PathLike, needed_bytes: int, what: str = "output") -> None:
    """Raise ExpoError when ``directory`` (or its nearest existing parent) has less than ``needed_bytes`` free."""
    d = Path(directory).absolute()
    while not d.exists():
        d = d.parent
    free = shutil.disk_usage(d).free
    if free < needed_bytes:
        raise ExpoError(
            f"not enough disk space for {what} in {d}: need {needed_bytes / 1e9:.2f} GB, free {free / 1e9:.2f} GB"
        )
