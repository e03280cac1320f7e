"""Read the alpha-selection results ``selection/<pair>.json`` (chosen alpha and per-alpha reward statistics).

Format (``expo.selection.stats``): ``{"pair", "mode", "chosen_alpha": "0.3" | "none", "alphas": {alpha: {"n",
"mean_reward", "stderr", "mean_length"}}}``; a list ``"per_alpha": [{"alpha": ..., ...}]`` is accepted as well,
and a few key spellings of the per-alpha statistics, so the tables do not break on a renamed field.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from expo.errors import ExpoError
from expo.io.records import read_json
from expo.naming import canonical_alpha

REWARD_KEYS = ("mean_reward", "reward", "mean")
SE_KEYS = ("reward_se", "se", "stderr", "standard_error", "sem")
LENGTH_KEYS = ("mean_length", "length", "avg_length")
N_KEYS = ("n", "count", "n_outputs")


@dataclass
class Selection:
    pair: str
    path: Path
    chosen_alpha: str | None  # canonical alpha, or None when no alpha beat alpha = 0
    per_alpha: list[dict] = field(default_factory=list)  # {alpha, mean_reward, reward_se, mean_length, n}
    extra: dict = field(default_factory=dict)


def _pick(entry: dict, keys: tuple[str, ...], path: Path, i: int, required: bool = False):
    for key in keys:
        if key in entry:
            value = entry[key]
            if value is not None and (isinstance(value, bool) or not isinstance(value, int | float)):
                raise ExpoError(f"{path}: per_alpha[{i}].{key} is not a number: {value!r}")
            return None if value is None else float(value)
    if required:
        raise ExpoError(f"{path}: per_alpha[{i}] lacks {' / '.join(keys)}")
    return None


def read_selection(path: Path) -> Selection:
    data = read_json(path)
    if not isinstance(data, dict) or "chosen_alpha" not in data:
        raise ExpoError(f"{path}: not a selection file (no 'chosen_alpha')")
    chosen = data["chosen_alpha"]
    if chosen is None or (isinstance(chosen, str) and chosen.lower() in ("none", "n/a", "")):
        chosen_alpha = None
    else:
        try:
            chosen_alpha = canonical_alpha(chosen)
        except ExpoError as exc:
            raise ExpoError(f"{path}: chosen_alpha: {exc}") from None
    per_alpha = []
    entries = data.get("per_alpha") or []
    if isinstance(data.get("alphas"), dict):
        entries = [{"alpha": a, **s} if isinstance(s, dict) else s for a, s in data["alphas"].items()]
    if not isinstance(entries, list):
        raise ExpoError(f"{path}: per_alpha must be a list")
    for i, entry in enumerate(entries):
        if not isinstance(entry, dict) or "alpha" not in entry:
            raise ExpoError(f"{path}: per_alpha[{i}] must be an object with an alpha")
        try:
            alpha = canonical_alpha(entry["alpha"])
        except ExpoError as exc:
            raise ExpoError(f"{path}: per_alpha[{i}].alpha: {exc}") from None
        per_alpha.append(
            {
                "alpha": alpha,
                "mean_reward": _pick(entry, REWARD_KEYS, path, i, required=True),
                "reward_se": _pick(entry, SE_KEYS, path, i),
                "mean_length": _pick(entry, LENGTH_KEYS, path, i),
                "n": None if (n := _pick(entry, N_KEYS, path, i)) is None else int(n),
            }
        )
    per_alpha.sort(key=lambda e: float(e["alpha"]))
    extra = {k: v for k, v in data.items() if k not in ("chosen_alpha", "per_alpha", "alphas")}
    return Selection(pair=path.stem, path=path, chosen_alpha=chosen_alpha, per_alpha=per_alpha, extra=extra)


def read_selections(selection_dir: Path | None) -> dict[str, Selection]:
    if selection_dir is None or not Path(selection_dir).is_dir():
        return {}
    out = {}
    for path in sorted(Path(selection_dir).glob("*.json")):
        sel = read_selection(path)
        out[path.stem] = sel
    return out
