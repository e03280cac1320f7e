"""Fetch AlpacaEval 2.0 resources from the hub dataset ``tatsu-lab/alpaca_eval`` into a local file.

``reference``: ``alpaca_eval_gpt4_baseline.json`` (the 805 GPT-4-1106-preview reference outputs; the file
the dataset's loading script reads, fetched directly because ``datasets>=4`` refuses loading scripts).
``df_gamed``: ``df_gamed.csv`` (what the length-controlled win rate is fitted on). Both are checked, then
copied atomically; a hub failure is one line naming the file.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from expo.benchmarks.alpaca_eval.inputs import check_reference, load_outputs
from expo.benchmarks.alpaca_eval.length_control import HUB_REPO, _check
from expo.errors import ExpoError
from expo.io.atomic import atomic_file

HUB_FILES = {"reference": "alpaca_eval_gpt4_baseline.json", "df_gamed": "df_gamed.csv"}


def fetch_resource(what: str, out: str | Path) -> Path:
    if what not in HUB_FILES:
        raise ExpoError(f"unknown AlpacaEval resource {what!r} (choose from {', '.join(HUB_FILES)})")
    filename = HUB_FILES[what]
    try:
        from huggingface_hub import hf_hub_download

        path = Path(hf_hub_download(repo_id=HUB_REPO, filename=filename, repo_type="dataset"))
    except Exception as exc:  # noqa: BLE001 - network/auth/hub errors: one line
        first = (str(exc).strip().splitlines() or [""])[0][:200]
        raise ExpoError(
            f"cannot download {filename} from hub dataset {HUB_REPO}: {type(exc).__name__}: {first}"
        ) from None
    if what == "reference":
        check_reference(load_outputs(path, "reference"))
    else:
        _check(path, f"hub {HUB_REPO}")
    out = Path(out)
    with atomic_file(out, "wb") as dst, open(path, "rb") as src:
        shutil.copyfileobj(src, dst)
    return out
