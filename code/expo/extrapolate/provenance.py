"""What an extrapolated model carries besides weights: the aligned model's other files and a provenance record.

Every non-weight file of the aligned model (config, generation config, tokenizer, chat template, remote-code
``*.py``, ...) is copied (and fsynced); weight files (safetensors, their index, pickles) are not.
``expo_provenance.json`` says how the weights were made: inputs, alpha, precision, package version, time, and
which weights exactly: per model (``sft``, ``aligned``, ``output``) the sha256 and size of every weight file
(``files``) and ``weights_sha256``, one fingerprint of them all (the sha256 of their sorted ``sha256sum``
listing), so two checkpoints of one architecture with different weights never share a fingerprint. ``sha256``
of ``sft``/``aligned`` is the older structure fingerprint (of the index file or the safetensors header, named by
``fingerprint_of``), kept for readers of earlier records.
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
from pathlib import Path

from expo import __version__
from expo.extrapolate.checkpoint import Checkpoint
from expo.extrapolate.fingerprints import HASH_NAME, combined_digest
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
        fsync_path(dst / rel)
        copied.append(str(rel))
    return copied


def fsync_path(path: Path) -> None:
    """fsync a file or a directory (a directory's fsync makes its entries durable; not possible everywhere)."""
    flags = os.O_RDONLY | (os.O_DIRECTORY if path.is_dir() and hasattr(os, "O_DIRECTORY") else 0)
    try:
        fd = os.open(path, flags)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        if not path.is_dir():
            raise
    finally:
        os.close(fd)


def write_provenance(
    out_dir: Path,
    sft: Checkpoint,
    aligned: Checkpoint,
    alpha: float,
    precision: str,
    extra: dict | None = None,
    content: dict[str, dict[str, dict]] | None = None,
) -> Path:
    """Write ``expo_provenance.json`` into ``out_dir``; ``content``: role (sft/aligned/output) -> weight file name
    -> ``{"sha256", "bytes"}`` (None: the content hashes were not computed)."""

    def weights(role: str) -> dict:
        files = (content or {}).get(role)
        return {"weights_sha256": combined_digest(files) if files else None, "files": files}

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
            **weights(ckpt.role),
        }

    record = {
        "tool": "expo extrapolate",
        "formula": "aligned + alpha * (aligned - sft)",
        "sft": describe(sft),
        "aligned": describe(aligned),
        "alpha": alpha,
        "precision": precision,
        "content_hash": HASH_NAME if content else None,
        "output": weights("output"),
        "expo_version": __version__,
        "created_utc": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        **(extra or {}),
    }
    path = out_dir / PROVENANCE_NAME
    write_json(path, record)
    return path
