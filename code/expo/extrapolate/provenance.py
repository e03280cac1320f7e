"""What an extrapolated model carries besides weights: the aligned model's other files and a provenance record.

Every non-weight file of the aligned model (config, generation config, tokenizer, chat template, remote-code
``*.py``, ...) is copied; weight files (safetensors, their index, pickles) are not. ``expo_provenance.json`` says
how the weights were made: inputs, alpha, precision, package version, fingerprints of both inputs, time.
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
from pathlib import Path

from expo import __version__
from expo.extrapolate.checkpoint import Checkpoint
from expo.io.atomic import write_json

PROVENANCE_NAME = "expo_provenance.json"
WEIGHT_SUFFIXES = (".safetensors", ".bin", ".pt", ".pth", ".ckpt", ".msgpack", ".h5", ".gguf")
WEIGHT_INDEX_SUFFIXES = (".safetensors.index.json", ".bin.index.json")


def is_weight_file(name: str) -> bool:
    return name.endswith(WEIGHT_SUFFIXES) or name.endswith(WEIGHT_INDEX_SUFFIXES) or name == PROVENANCE_NAME


def non_weight_files(root: Path) -> list[Path]:
    """Files of ``root`` (recursively, skipping hidden entries such as ``.cache``) that are not weights."""
    found = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        for fname in sorted(filenames):
            if not fname.startswith(".") and not is_weight_file(fname):
                found.append(Path(dirpath) / fname)
    return found


def copy_non_weight_files(src: Path, dst: Path) -> list[str]:
    copied = []
    for path in non_weight_files(src):
        rel = path.relative_to(src)
        (dst / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(path, dst / rel)
        copied.append(str(rel))
    return copied


def write_provenance(
    out_dir: Path,
    sft: Checkpoint,
    aligned: Checkpoint,
    alpha: float,
    precision: str,
    extra: dict | None = None,
) -> Path:
    def describe(ckpt: Checkpoint) -> dict:
        what = "index" if ckpt.fingerprint_file.name.endswith(".index.json") else "safetensors header"
        if ckpt.kind == "pickle" and what != "index":
            what = "pickle file"
        return {
            "path": str(ckpt.root.resolve()),
            "format": ckpt.kind,
            "fingerprint_file": ckpt.fingerprint_file.name,
            "fingerprint_of": what,
            "sha256": ckpt.fingerprint_sha256,
        }

    record = {
        "tool": "expo extrapolate",
        "formula": "aligned + alpha * (aligned - sft)",
        "sft": describe(sft),
        "aligned": describe(aligned),
        "alpha": alpha,
        "precision": precision,
        "expo_version": __version__,
        "created_utc": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        **(extra or {}),
    }
    path = out_dir / PROVENANCE_NAME
    write_json(path, record)
    return path
