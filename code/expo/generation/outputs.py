"""Output files of generation, in the seed's formats, and the resumable progress sidecar.

* ultrafeedback: JSONL, one ``{"prompt", "output", "length", "finish_reason"}`` per line;
* alpaca: a JSON list of ``{"dataset", "instruction", "output", "generator"}`` (AlpacaEval's model_outputs).

While generating, each finished batch is appended to ``<out>.partial.jsonl`` (flushed and fsynced): a header
line describing the run, then ``{"index", "output", "length", "finish_reason"}`` per prompt. A rerun after a
kill reads it back (a truncated last line is dropped), skips the finished prompts and never writes one twice (a
sidecar whose header differs - another model, prompt file or setting - is discarded with a warning);
the final file is written atomically at the end and the sidecar removed.

:func:`read_outputs` reads both formats (ours and the published AlpacaEval outputs) into :class:`OutputRecord`.
"""

from __future__ import annotations

import json
import logging
import os
from dataclasses import dataclass
from pathlib import Path

from expo.errors import ExpoError
from expo.generation.completion import Completion
from expo.generation.prompts import Prompt
from expo.io.atomic import write_json, write_jsonl
from expo.io.records import iter_json_records

log = logging.getLogger(__name__)

UF_KEYS = ("prompt", "output", "length", "finish_reason")
ALPACA_KEYS = ("dataset", "instruction", "output", "generator")


@dataclass(frozen=True)
class OutputRecord:
    """One generated response; ``length`` is None for formats that do not store it (AlpacaEval)."""

    prompt: str
    output: str
    length: int | None = None


def sidecar_path(out: str | os.PathLike) -> Path:
    out = Path(out)
    return out.with_name(out.name + ".partial.jsonl")


def format_records(prompts: list[Prompt], completions: list[Completion], fmt: str, generator: str) -> object:
    if fmt == "ultrafeedback":
        return [
            {"prompt": p.text, "output": c.text, "length": c.length, "finish_reason": c.finish_reason}
            for p, c in zip(prompts, completions, strict=True)
        ]
    return [
        {"dataset": p.dataset, "instruction": p.text, "output": c.text, "generator": generator}
        for p, c in zip(prompts, completions, strict=True)
    ]


def write_outputs(out: str | os.PathLike, prompts, completions, fmt: str, generator: str) -> None:
    records = format_records(prompts, completions, fmt, generator)
    if fmt == "ultrafeedback":
        write_jsonl(out, records)
    else:
        write_json(out, records)


class Sidecar:
    """Append-only progress file: ``{index: Completion}`` of finished prompts for one run description."""

    def __init__(self, out: str | os.PathLike, header: dict, n_prompts: int) -> None:
        self.path = sidecar_path(out)
        self.header = header
        self.done: dict[int, Completion] = {}
        self._fh = None
        if self.path.exists():
            self._load(n_prompts)

    def _load(self, n_prompts: int) -> None:
        lines = self.path.read_text(encoding="utf-8").split("\n")
        nonempty = [(i, line) for i, line in enumerate(lines, 1) if line.strip()]
        rows = []
        for k, (lineno, line) in enumerate(nonempty):
            try:
                rows.append((lineno, json.loads(line)))
            except json.JSONDecodeError:
                if k == len(nonempty) - 1:
                    log.info("resume: dropping the truncated last line %d of %s", lineno, self.path)
                    break
                raise ExpoError(
                    f"{self.path}:{lineno}: malformed progress line (delete the file to restart)"
                ) from None
        if not rows:
            return
        lineno, first = rows[0]
        if first.get("header") != self.header:
            log.warning(
                "resume: %s was written by a different run (model, prompts or settings differ); starting over",
                self.path,
            )
            self.path.unlink()
            return
        for lineno, row in rows[1:]:
            try:
                index = int(row["index"])
                completion = Completion(str(row["output"]), int(row["length"]), str(row["finish_reason"]))
            except (KeyError, TypeError, ValueError):
                raise ExpoError(f"{self.path}:{lineno}: malformed progress record") from None
            if not 0 <= index < n_prompts:
                raise ExpoError(
                    f"{self.path}:{lineno}: prompt index {index} out of range (0..{n_prompts - 1})"
                )
            self.done.setdefault(index, completion)
        log.info("resume: %d of %d prompts already done in %s", len(self.done), n_prompts, self.path)

    def _open(self):
        if self._fh is None:
            fresh = not self.path.exists() or not self.done
            self.path.parent.mkdir(parents=True, exist_ok=True)
            if fresh:
                self._fh = open(self.path, "w", encoding="utf-8")
                self._fh.write(json.dumps({"header": self.header}, ensure_ascii=False) + "\n")
            else:
                self._fh = open(self.path, "a+", encoding="utf-8")
                self._fh.seek(0, os.SEEK_END)
                if self._fh.tell() > 0:
                    self._fh.seek(self._fh.tell() - 1)
                    last = self._fh.read(1)
                    self._fh.seek(0, os.SEEK_END)
                    if last != "\n":  # a truncated line: end it so the next record starts clean
                        self._fh.write("\n")
        return self._fh

    def append(self, items: list[tuple[int, Completion]]) -> None:
        """Record finished prompts (skipping any already done), flushed and fsynced."""
        fh = self._open()
        for index, c in items:
            if index in self.done:
                continue
            fh.write(
                json.dumps(
                    {"index": index, "output": c.text, "length": c.length, "finish_reason": c.finish_reason},
                    ensure_ascii=False,
                )
                + "\n"
            )
            self.done[index] = c
        fh.flush()
        os.fsync(fh.fileno())

    def close(self) -> None:
        if self._fh is not None:
            self._fh.close()
            self._fh = None

    def remove(self) -> None:
        self.close()
        self.path.unlink(missing_ok=True)


def read_outputs(path: str | os.PathLike) -> list[OutputRecord]:
    """Read an outputs file of either format (JSON list = AlpacaEval, else UltraFeedback JSONL)."""
    records: list[OutputRecord] = []
    for where, obj, from_list in iter_json_records(path, "outputs"):
        if from_list:
            if (
                not isinstance(obj, dict)
                or not isinstance(obj.get("instruction"), str)
                or not isinstance(obj.get("output"), str)
            ):
                raise ExpoError(f"{where}: needs string 'instruction' and 'output'")
            records.append(OutputRecord(obj["instruction"], obj["output"]))
            continue
        if not isinstance(obj, dict):
            raise ExpoError(f"{where}: expected a JSON object")
        prompt = obj.get("prompt", obj.get("instruction"))
        if not isinstance(prompt, str) or not isinstance(obj.get("output"), str):
            raise ExpoError(f"{where}: needs string 'prompt' and 'output'")
        length = obj.get("length")
        if length is not None and (not isinstance(length, int) or isinstance(length, bool) or length < 0):
            raise ExpoError(f"{where}: 'length' is not a non-negative integer")
        records.append(OutputRecord(prompt, obj["output"], length))
    if not records:
        raise ExpoError(f"outputs file {path} is empty")
    return records
