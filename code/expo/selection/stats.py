"""Pick alpha by mean reward: per-alpha n / mean reward / standard error / mean length, and the chosen alpha.

``sweep`` mode: the chosen alpha is the argmax of mean reward among alpha > 0 if it beats alpha 0 (the aligned
model), else ``"none"`` (ExPO not applied, the paper's "N/A"). ``published`` mode: the pair's published alpha is
chosen; the sweep statistics given are still reported.
"""

from __future__ import annotations

import logging
import math
import os
from pathlib import Path

from expo.errors import ExpoError
from expo.generation.outputs import read_outputs
from expo.io.atomic import write_json
from expo.io.records import read_floats
from expo.naming import canonical_alpha

log = logging.getLogger(__name__)

MODES = ("sweep", "published")
NONE = "none"


def parse_alpha_files(items: list[str], option: str) -> dict[str, Path]:
    """``["0.1=path", ...]`` -> ``{canonical alpha: path}``; ExpoError naming the bad item."""
    out: dict[str, Path] = {}
    for item in items:
        alpha, sep, path = item.partition("=")
        if not sep or not path:
            raise ExpoError(f"{option} {item!r}: expected ALPHA=FILE")
        key = canonical_alpha(alpha)
        if key in out:
            raise ExpoError(f"{option}: alpha {key} given twice")
        out[key] = Path(path)
    return out


def alpha_stats(rewards: list[float], lengths: list[int | None]) -> dict:
    n = len(rewards)
    mean = sum(rewards) / n
    var = sum((r - mean) ** 2 for r in rewards) / (n - 1) if n > 1 else 0.0
    known = [x for x in lengths if x is not None]
    return {
        "n": n,
        "mean_reward": mean,
        "stderr": math.sqrt(var / n) if n > 1 else 0.0,
        "mean_length": sum(known) / len(known) if known else None,
    }


def choose_alpha(stats: dict[str, dict]) -> str:
    """Argmax of mean reward among alpha > 0 if it beats alpha 0.0, else ``"none"``."""
    if "0.0" not in stats:
        raise ExpoError("selection needs the rewards of alpha 0.0 (the aligned model) to compare against")
    candidates = [a for a in stats if float(a) > 0]
    if not candidates:
        return NONE
    best = max(candidates, key=lambda a: (stats[a]["mean_reward"], -float(a)))
    return best if stats[best]["mean_reward"] > stats["0.0"]["mean_reward"] else NONE


def select_alpha(
    pair: str,
    rewards: dict[str, Path],
    outputs: dict[str, Path],
    mode: str = "sweep",
    published_alpha: float | None = None,
) -> dict:
    """Compute the selection record (see module docstring)."""
    if mode not in MODES:
        raise ExpoError(f"unknown --mode {mode!r} (choose from {', '.join(MODES)})")
    if mode == "published" and published_alpha is None:
        raise ExpoError(f"pair {pair}: --mode published needs --published-alpha")
    if set(rewards) != set(outputs):
        raise ExpoError(
            f"pair {pair}: --rewards alphas {sorted(rewards, key=float)} and --outputs alphas "
            f"{sorted(outputs, key=float)} differ"
        )
    if not rewards:
        raise ExpoError(f"pair {pair}: no --rewards given")
    stats: dict[str, dict] = {}
    for alpha in sorted(rewards, key=float):
        values = read_floats(rewards[alpha])
        records = read_outputs(outputs[alpha])
        if len(values) != len(records):
            raise ExpoError(
                f"pair {pair} alpha {alpha}: rewards file {rewards[alpha]} has {len(values)} values but outputs "
                f"file {outputs[alpha]} has {len(records)} outputs"
            )
        if not values:
            raise ExpoError(f"pair {pair} alpha {alpha}: rewards file {rewards[alpha]} is empty")
        stats[alpha] = alpha_stats(values, [r.length for r in records])
    if mode == "sweep":
        chosen = choose_alpha(stats)
    else:
        chosen = canonical_alpha(published_alpha)
    result = {
        "pair": pair,
        "mode": mode,
        "chosen_alpha": chosen,
        "baseline_alpha": "0.0",
        "alphas": stats,
    }
    if mode == "published":
        result["published_alpha"] = chosen
    return result


def write_selection(result: dict, out: str | os.PathLike) -> None:
    write_json(out, result)


def read_chosen_alpha(selection_file: str | os.PathLike) -> str | None:
    """Chosen alpha of a selection file: a canonical alpha string, or None when ExPO is not applied."""
    from expo.io.records import read_json

    data = read_json(selection_file)
    chosen = data.get("chosen_alpha") if isinstance(data, dict) else None
    if chosen is None:
        raise ExpoError(f"{selection_file}: no 'chosen_alpha'")
    return None if chosen == NONE else canonical_alpha(chosen)
