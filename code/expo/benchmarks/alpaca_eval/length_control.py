"""The length-controlled (LC) win rate: find ``df_gamed.csv`` or say why LC is unavailable, then compute it.

alpaca_eval 0.6.6 fits its LC GLM on ``df_gamed.csv``, fetched with ``hf_hub_download(tatsu-lab/alpaca_eval,
df_gamed.csv, repo_type=dataset)`` inside ``metrics.glm_winrate`` with no path option. We resolve the file
before any judging (a local ``--df-gamed`` file, else the hub unless offline) and, while the metric runs,
point that module's ``hf_hub_download`` at the resolved file (``local_df_gamed``, also used by the tables). The GLM reads instruction difficulty by row
position, so LC is only computed for a full, ordered eval set (as many rows as df_gamed has instructions).
Weights are never saved (``save_weights_dir=None``), so nothing is written into site-packages.
"""

from __future__ import annotations

import contextlib
import logging
import math
import os
from dataclasses import dataclass
from pathlib import Path

from expo.errors import ExpoError

log = logging.getLogger(__name__)

HUB_REPO = "tatsu-lab/alpaca_eval"
HUB_FILE = "df_gamed.csv"
REQUIRED_COLUMNS = {
    "index",
    "instruction_difficulty",
    "preference",
    "std_delta_len",
    "not_gamed_baseline",
    "model",
}


@dataclass(frozen=True)
class DfGamed:
    """A usable df_gamed.csv (path, number of eval instructions), or the reason LC is unavailable."""

    path: Path | None
    n_instructions: int = 0
    reason: str = ""


def _check(path: Path, origin: str) -> DfGamed:
    import pandas as pd

    try:
        df = pd.read_csv(path)
    except Exception as exc:  # noqa: BLE001 - any unreadable file
        raise ExpoError(f"df_gamed file {path} ({origin}) is not a readable CSV: {exc}") from None
    missing = REQUIRED_COLUMNS - set(df.columns)
    if missing:
        raise ExpoError(f"df_gamed file {path} ({origin}) lacks columns {sorted(missing)}")
    return DfGamed(path=path, n_instructions=int(df["index"].nunique()))


def resolve_df_gamed(local: str | os.PathLike | None) -> DfGamed:
    """A local file (must exist and parse), else a hub download, else unavailable with the reason."""
    if local is not None and str(local).lower() == "none":
        return DfGamed(None, reason="LC disabled (--df-gamed none)")
    if local:
        path = Path(local)
        if not path.is_file():
            raise ExpoError(f"--df-gamed {path}: file not found")
        return _check(path, "local")
    if os.environ.get("HF_HUB_OFFLINE", "").lower() in ("1", "true", "yes"):
        return DfGamed(None, reason="df_gamed.csv not given (--df-gamed) and the hub is off (HF_HUB_OFFLINE)")
    try:
        from huggingface_hub import hf_hub_download

        path = Path(hf_hub_download(repo_id=HUB_REPO, filename=HUB_FILE, repo_type="dataset"))
    except Exception as exc:  # noqa: BLE001 - no network, no auth, hub errors: LC is just unavailable
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        return DfGamed(
            None, reason=f"df_gamed.csv not reachable on the hub ({type(exc).__name__}: {first[:160]})"
        )
    return _check(path, f"hub {HUB_REPO}")


@contextlib.contextmanager
def local_df_gamed(path: str | os.PathLike):
    """While open, alpaca_eval's ``hf_hub_download`` of ``df_gamed.csv`` (in ``metrics.glm_winrate``) returns the
    local file ``path``; any other hub file it asks for is an ExpoError (the hub is never touched)."""
    from alpaca_eval.metrics import glm_winrate

    def local_download(*args, filename=None, **kwargs):
        if filename != HUB_FILE:
            raise ExpoError(
                f"alpaca_eval asked for {filename!r} from the hub; only {HUB_FILE} is provided locally"
            )
        return str(path)

    original = glm_winrate.hf_hub_download
    glm_winrate.hf_hub_download = local_download
    try:
        yield
    finally:
        glm_winrate.hf_hub_download = original


def make_metric(df_gamed: DfGamed, n_rows: int):
    """An ``fn_metric`` for ``alpaca_eval.evaluate``: LC when possible, else the win rate and LC = NaN + reason."""
    from alpaca_eval import metrics

    reason = df_gamed.reason
    if df_gamed.path is not None and n_rows != df_gamed.n_instructions:
        reason = (
            f"LC needs all {df_gamed.n_instructions} AlpacaEval instructions in the official order; "
            f"this eval set has {n_rows}"
        )

    def metric(annotations) -> dict:
        if not reason:
            with local_df_gamed(df_gamed.path):
                out = dict(metrics.get_length_controlled_winrate(annotations, save_weights_dir=None))
            out["lc_status"] = "ok"
            return out
        out = dict(metrics.get_winrate(annotations))
        out["length_controlled_winrate"] = math.nan
        out["lc_standard_error"] = math.nan
        out["lc_status"] = f"unavailable: {reason}"
        return out

    metric.lc_reason = reason
    return metric
