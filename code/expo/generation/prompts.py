"""Prompt sets: read prompt files (local JSONL/JSON) and fetch the UltraFeedback / AlpacaEval sets from the hub.

Two shapes are used by the pipeline:

* ``ultrafeedback`` - ``resources/prompts/ultrafeedback.jsonl``, lines ``{"prompt": ...}``
  (HuggingFaceH4/ultrafeedback_binarized, split ``test_gen``, the first user message of ``messages``);
* ``alpaca`` - ``resources/prompts/alpaca_eval.json``, a JSON list of ``{"instruction", "dataset"}``
  (tatsu-lab/alpaca_eval, file ``alpaca_eval.json``: the 805 AlpacaEval instructions).

Local files may be JSONL (one object per line with ``prompt`` or ``instruction``) or a JSON list of such
objects (or of strings); every malformed record is reported with its file and line / item number.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path

from expo.errors import ExpoError
from expo.io.atomic import write_json, write_jsonl
from expo.io.records import iter_json_records

log = logging.getLogger(__name__)

FORMATS = ("ultrafeedback", "alpaca")
PROMPT_SETS = ("ultrafeedback", "alpaca_eval")
UF_REPO, UF_SPLIT = "HuggingFaceH4/ultrafeedback_binarized", "test_gen"
ALPACA_REPO, ALPACA_FILE = "tatsu-lab/alpaca_eval", "alpaca_eval.json"
DEFAULT_DATASET = "custom"


@dataclass(frozen=True)
class Prompt:
    """One prompt: its text, and the AlpacaEval ``dataset`` tag (kept for AlpacaEval outputs)."""

    text: str
    dataset: str = DEFAULT_DATASET


def format_for_path(path: str | os.PathLike) -> str:
    """Output format implied by a file name: ``.jsonl`` -> ultrafeedback, ``.json`` -> alpaca."""
    suffix = Path(path).suffix.lower()
    if suffix == ".jsonl":
        return "ultrafeedback"
    if suffix == ".json":
        return "alpaca"
    raise ExpoError(f"{path}: cannot tell the format from the extension (.jsonl or .json); pass --format")


def _record_to_prompt(obj, where: str) -> Prompt:
    if isinstance(obj, str):
        text, dataset = obj, DEFAULT_DATASET
    elif isinstance(obj, dict):
        text = obj.get("prompt", obj.get("instruction"))
        dataset = obj.get("dataset", DEFAULT_DATASET)
        if text is None:
            raise ExpoError(f"{where}: record has neither 'prompt' nor 'instruction' (keys: {sorted(obj)})")
    else:
        raise ExpoError(
            f"{where}: expected an object with 'prompt' or 'instruction', got {type(obj).__name__}"
        )
    if not isinstance(text, str) or not text.strip():
        raise ExpoError(f"{where}: prompt is empty or not a string")
    if not isinstance(dataset, str):
        raise ExpoError(f"{where}: 'dataset' is not a string")
    return Prompt(text=text, dataset=dataset)


def read_prompts(path: str | os.PathLike, limit: int | None = None) -> list[Prompt]:
    """Read a local prompt file (JSONL or JSON list); ExpoError naming file and line when it is bad."""
    prompts = [_record_to_prompt(obj, where) for where, obj, _ in iter_json_records(path, "prompt")]
    if not prompts:
        raise ExpoError(f"prompt file {path} is empty (no prompts)")
    return prompts[:limit] if limit else prompts


def write_prompt_set(prompts: list[Prompt], prompt_set: str, out: str | os.PathLike) -> None:
    """Write a prompt set atomically in the pipeline's shape (see module docstring)."""
    if prompt_set == "ultrafeedback":
        write_jsonl(out, [{"prompt": p.text} for p in prompts])
    elif prompt_set == "alpaca_eval":
        write_json(out, [{"instruction": p.text, "dataset": p.dataset} for p in prompts])
    else:
        raise ExpoError(f"unknown prompt set {prompt_set!r} (choose from {', '.join(PROMPT_SETS)})")


def _first_user_message(messages, where: str) -> str:
    for message in messages if messages is not None else []:
        if message.get("role") == "user":
            return message["content"]
    raise ExpoError(f"{where}: no user message in 'messages'")


def _read_parquet_messages(path: str) -> list:
    try:
        import pyarrow.parquet as pq
    except ImportError:
        import pandas as pd  # pandas needs pyarrow or fastparquet for parquet

        try:
            return list(pd.read_parquet(path, columns=["messages"])["messages"])
        except ImportError:
            raise ExpoError(
                "reading the UltraFeedback parquet file needs pyarrow (pip install pyarrow), "
                "or give prompts.ultrafeedback.source a local file"
            ) from None
    return pq.read_table(path, columns=["messages"]).column("messages").to_pylist()


def fetch_ultrafeedback_from_hub() -> list[Prompt]:
    """UltraFeedback ``test_gen`` prompts: download the split's parquet file(s) with huggingface_hub."""
    from huggingface_hub import HfApi, hf_hub_download

    files = sorted(
        f
        for f in HfApi().list_repo_files(UF_REPO, repo_type="dataset")
        if f.endswith(".parquet") and Path(f).name.startswith(f"{UF_SPLIT}-")
    )
    if not files:
        raise ExpoError(f"hub dataset {UF_REPO} has no parquet file for split {UF_SPLIT!r}")
    prompts = []
    for name in files:
        local = hf_hub_download(UF_REPO, name, repo_type="dataset")
        for i, messages in enumerate(_read_parquet_messages(local)):
            prompts.append(Prompt(_first_user_message(messages, f"{UF_REPO}/{name} row {i}")))
    return prompts


def fetch_alpaca_eval_from_hub() -> list[Prompt]:
    """The 805 AlpacaEval instructions: ``alpaca_eval.json`` of the hub dataset (no loading script)."""
    from huggingface_hub import hf_hub_download

    local = hf_hub_download(ALPACA_REPO, ALPACA_FILE, repo_type="dataset")
    return read_prompts(local)


def fetch_prompt_set(
    prompt_set: str, out: str | os.PathLike, source: str = "hub", limit: int | None = None
) -> int:
    """Fetch ``prompt_set`` from the hub or a local file, keep the first ``limit``, write ``out``; return count."""
    if prompt_set not in PROMPT_SETS:
        raise ExpoError(f"unknown prompt set {prompt_set!r} (choose from {', '.join(PROMPT_SETS)})")
    if limit is not None and limit <= 0:
        raise ExpoError(f"--limit must be positive, got {limit}")
    if source == "hub":
        prompts = (
            fetch_ultrafeedback_from_hub() if prompt_set == "ultrafeedback" else fetch_alpaca_eval_from_hub()
        )
    else:
        prompts = read_prompts(source)
    if limit:
        prompts = prompts[:limit]
    write_prompt_set(prompts, prompt_set, out)
    log.info("prompts: wrote %d %s prompts from %s to %s", len(prompts), prompt_set, source, out)
    return len(prompts)
