"""Readers for the pipeline's record files (JSON, JSONL, one-float-per-line) with errors naming file and line."""

from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import Any

from expo.errors import ExpoError


def read_json(path: str | os.PathLike) -> Any:
    path = Path(path)
    if not path.is_file():
        raise ExpoError(f"{path}: file not found")
    try:
        with open(path, encoding="utf-8") as fh:
            return json.load(fh)
    except json.JSONDecodeError as exc:
        raise ExpoError(
            f"{path}: malformed JSON at line {exc.lineno} column {exc.colno}: {exc.msg}"
        ) from None
    except UnicodeDecodeError as exc:
        raise ExpoError(f"{path}: not UTF-8 text ({exc.reason})") from None


def read_jsonl(path: str | os.PathLike, allow_partial_last_line: bool = False) -> list[dict]:
    """Read a JSONL file; each non-empty line must be a JSON object.

    ``allow_partial_last_line`` tolerates a truncated final line (a killed writer) and drops it.
    """
    path = Path(path)
    if not path.is_file():
        raise ExpoError(f"{path}: file not found")
    rows: list[dict] = []
    with open(path, encoding="utf-8") as fh:
        lines = fh.read().split("\n")
    last = max((i for i, line in enumerate(lines) if line.strip()), default=-1)
    for i, line in enumerate(lines):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as exc:
            if allow_partial_last_line and i == last:
                break
            raise ExpoError(f"{path}:{i + 1}: malformed JSON line: {exc.msg}") from None
        if not isinstance(obj, dict):
            raise ExpoError(f"{path}:{i + 1}: expected a JSON object, got {type(obj).__name__}")
        rows.append(obj)
    return rows


def read_floats(path: str | os.PathLike) -> list[float]:
    """Read a rewards file: one float per line."""
    path = Path(path)
    if not path.is_file():
        raise ExpoError(f"{path}: file not found")
    values: list[float] = []
    with open(path, encoding="utf-8") as fh:
        for i, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                v = float(line)
            except ValueError:
                raise ExpoError(f"{path}:{i}: not a number: {line.strip()[:40]!r}") from None
            if not math.isfinite(v):
                raise ExpoError(f"{path}:{i}: non-finite value {line.strip()!r}")
            values.append(v)
    return values


def iter_json_records(path: str | os.PathLike, label: str):
    """Yield ``(where, obj, from_list)`` for each record of a JSON-list or JSONL file.

    ``where`` names the record for error messages (``<label> file P item i`` or ``<label> file P:line``);
    a missing file, non-UTF-8 text or malformed JSON is an ExpoError naming file and line.
    """
    path = Path(path)
    if not path.is_file():
        raise ExpoError(f"{label} file {path} not found")
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise ExpoError(f"{label} file {path}: not UTF-8 text ({exc.reason})") from None
    if text.lstrip().startswith("["):
        try:
            items = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ExpoError(f"{label} file {path}:{exc.lineno}: malformed JSON: {exc.msg}") from None
        for i, obj in enumerate(items):
            yield f"{label} file {path} item {i}", obj, True
        return
    for lineno, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as exc:
            raise ExpoError(f"{label} file {path}:{lineno}: malformed JSON line: {exc.msg}") from None
        yield f"{label} file {path}:{lineno}", obj, False
