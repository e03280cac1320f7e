"""Load and check AlpacaEval output files: model outputs and reference outputs (JSON lists of records).

Both are ``[{"instruction", "output", "generator"[, "dataset"]}, ...]``. The model outputs must answer the
reference's instructions in the same order (the length-controlled win rate indexes instructions by position),
carry one generator name, and that name must differ from the reference's. Every problem is an ``ExpoError``
naming the file and the first bad index.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from expo.errors import ExpoError
from expo.io.records import read_json

REQUIRED_KEYS = ("instruction", "output", "generator")


@dataclass(frozen=True)
class OutputsFile:
    """The checked records of one outputs file and the single generator name they carry."""

    path: Path
    records: list[dict]
    generator: str


def _clip(text: str, n: int = 60) -> str:
    text = text.replace("\n", " ")
    return repr(text if len(text) <= n else text[:n] + "…")


def load_outputs(path: str | Path, what: str) -> OutputsFile:
    """Read an outputs file; every record needs string instruction/output/generator, one generator in all."""
    path = Path(path)
    data = read_json(path)
    if not isinstance(data, list) or not data:
        raise ExpoError(
            f"{what} {path}: expected a non-empty JSON list of records, got {type(data).__name__}"
        )
    records: list[dict] = []
    for i, rec in enumerate(data):
        if not isinstance(rec, dict):
            raise ExpoError(f"{what} {path}: record {i} is a {type(rec).__name__}, expected an object")
        for key in REQUIRED_KEYS:
            if not isinstance(rec.get(key), str):
                got = "missing" if key not in rec else f"a {type(rec[key]).__name__}"
                raise ExpoError(f"{what} {path}: record {i} field {key!r} is {got}, expected a string")
        if "dataset" in rec and not isinstance(rec["dataset"], str):
            raise ExpoError(f"{what} {path}: record {i} field 'dataset' is not a string")
        records.append({k: rec[k] for k in ("dataset", "instruction", "output", "generator") if k in rec})
    first = records[0]["generator"]
    for i, rec in enumerate(records):
        if rec["generator"] != first:
            raise ExpoError(
                f"{what} {path}: mixed generators in one file: record 0 is {first!r}, record {i} is "
                f"{rec['generator']!r} (one model per file)"
            )
    return OutputsFile(path=path, records=records, generator=first)


def check_reference(reference: OutputsFile) -> None:
    """The reference's instructions must be unique (outputs are joined to it on the instruction)."""
    seen: dict[str, int] = {}
    for i, rec in enumerate(reference.records):
        if rec["instruction"] in seen:
            raise ExpoError(
                f"reference {reference.path}: instruction at index {i} repeats index {seen[rec['instruction']]}: "
                f"{_clip(rec['instruction'])}"
            )
        seen[rec["instruction"]] = i


def check_matches_reference(
    model: OutputsFile, reference: OutputsFile, name: str, allow_prefix: bool = False
) -> OutputsFile:
    """Same instructions in the same order as the reference, and a generator name other than the reference's.

    With ``allow_prefix`` the model may answer only the first N instructions (a prompt limit); the returned
    reference is then cut to those N. Otherwise the returned reference is the given one.
    """
    if name == reference.generator:
        raise ExpoError(
            f"model outputs {model.path}: generator name {name!r} is the reference's generator; "
            "give the model another name (--name)"
        )
    for i, (m, r) in enumerate(zip(model.records, reference.records, strict=False)):
        if m["instruction"] != r["instruction"]:
            raise ExpoError(
                f"model outputs {model.path}: instruction at index {i} does not match the reference "
                f"{reference.path}: {_clip(m['instruction'])} vs {_clip(r['instruction'])}"
            )
    if allow_prefix and len(model.records) < len(reference.records):
        return OutputsFile(reference.path, reference.records[: len(model.records)], reference.generator)
    if len(model.records) != len(reference.records):
        raise ExpoError(
            f"model outputs {model.path}: {len(model.records)} records but the reference {reference.path} has "
            f"{len(reference.records)} (first missing or extra index {min(len(model.records), len(reference.records))})"
        )
    return reference


def renamed(model: OutputsFile, name: str) -> list[dict]:
    """The model records with ``generator`` set to ``name`` (the model id used in every output)."""
    return [{**rec, "generator": name} for rec in model.records]
