"""The one resumable journal: an append-only JSONL file of keyed records that survives kills and reruns.

Every resumable writer uses it: generation's progress sidecar, MT-Bench answers and judgments, the AlpacaEval
judge journal. Rules:

* each ``append`` writes whole lines under an exclusive ``flock`` (several processes may share a file), then
  flushes and fsyncs: what ``append`` returned for is on disk;
* a line cut by a kill (the last one: no newline or not JSON) is cut off the file on the next open, so the next
  line never glues onto it; a malformed line elsewhere is an error naming file and line (``strict``) or is
  skipped with a warning;
* an optional ``header`` (first line ``{"header": ...}``) describes the run; a file with another header was
  written by a different run and is discarded with a warning;
* records are keyed by ``key(record)``; the last record of a key wins.
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import threading
from collections.abc import Callable, Hashable, Iterable
from pathlib import Path
from typing import Any

from expo.errors import ExpoError

log = logging.getLogger(__name__)


def _cut_torn_tail(path: Path) -> None:
    """Under the file lock: drop a last line that is not a JSON object (a writer killed mid-line); end a
    complete but unterminated last line, so the next line never glues onto it."""
    with open(path, "r+b") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        data = fh.read()
        body = data.rstrip(b"\n")
        if not body.strip():
            return
        start = body.rfind(b"\n") + 1
        try:
            whole = isinstance(json.loads(body[start:]), dict)
        except ValueError:
            whole = False
        if not whole:
            log.info("journal %s: dropping the cut last line (a kill mid-write)", path)
            fh.truncate(start)
        elif not data.endswith(b"\n"):
            fh.write(b"\n")


class Journal:
    """``records``: ``{key: value}`` of what earlier runs appended; ``append`` adds more."""

    def __init__(
        self,
        path: str | os.PathLike,
        key: Callable[[dict], Hashable],
        header: dict | None = None,
        parse: Callable[[dict], Any] | None = None,
        strict: bool = True,
        what: str = "journal",
    ):
        self.path = Path(path)
        self.header = header
        self._key = key
        self._parse = parse or (lambda record: record)
        self._strict = strict
        self._what = what
        self._lock = threading.Lock()
        self._fh = None
        self.records: dict[Hashable, Any] = {}
        self.n_written = 0
        if self.path.is_file():
            self._load()

    def _load(self) -> None:
        _cut_torn_tail(self.path)
        lines = self.path.read_bytes().split(b"\n")
        rows = [(n, line) for n, line in enumerate(lines, 1) if line.strip()]
        if self.header is not None and rows:
            try:
                first = json.loads(rows[0][1])
            except ValueError:
                first = None
            if not isinstance(first, dict) or first.get("header") != self.header:
                log.warning(
                    "resume: %s was written by a different run (model, inputs or settings differ); starting over",
                    self.path,
                )
                self.path.unlink()
                return
            rows = rows[1:]
        bad = 0
        for lineno, line in rows:
            try:
                record = json.loads(line)
                if not isinstance(record, dict):
                    raise ValueError("not a JSON object")
            except ValueError:
                if self._strict:
                    raise ExpoError(
                        f"{self.path}:{lineno}: malformed {self._what} line (delete the file to restart)"
                    ) from None
                bad += 1
                continue
            try:
                self.records[self._key(record)] = self._parse(record)
            except (KeyError, TypeError, ValueError) as exc:
                if self._strict:
                    detail = f": {exc}" if isinstance(exc, ValueError) else ""
                    raise ExpoError(f"{self.path}:{lineno}: malformed {self._what} record{detail}") from None
                bad += 1
        if bad:
            log.warning("%s %s: ignored %d unreadable line(s)", self._what, self.path, bad)

    def __contains__(self, key: Hashable) -> bool:
        return key in self.records

    def get(self, key: Hashable, default: Any = None) -> Any:
        return self.records.get(key, default)

    def _open(self):
        if self._fh is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._fh = open(self.path, "ab")
            if self.header is not None and self._fh.tell() == 0:
                self._write([{"header": self.header}])
        return self._fh

    def _write(self, records: Iterable[dict]) -> None:
        blob = b"".join(
            (json.dumps(r, ensure_ascii=False, default=str) + "\n").encode("utf-8") for r in records
        )
        fh = self._fh
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            fh.write(blob)
            fh.flush()
            os.fsync(fh.fileno())
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)

    def append(self, records: dict | list[dict]) -> None:
        """Write ``records`` (one or a list) as whole, fsynced lines and add them to ``records``."""
        records = [records] if isinstance(records, dict) else list(records)
        if not records:
            return
        with self._lock:
            self._open()
            self._write(records)
            for record in records:
                self.records[self._key(record)] = self._parse(record)
            self.n_written += len(records)

    def close(self) -> None:
        with self._lock:
            if self._fh is not None:
                self._fh.close()
                self._fh = None

    def remove(self) -> None:
        """The run is complete (its output written): the journal is no longer needed."""
        self.close()
        self.path.unlink(missing_ok=True)

    def __enter__(self) -> Journal:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
