"""The paper's views built from the per-benchmark tables: ExPO vs Original per pair, the controlled runs, and
the reward per alpha, each beside the published numbers and the difference (ours - published).

Results are matched to (pair, alpha) through :meth:`Published.resolve`, so our ids (``{pair}_alpha{alpha}``)
and the authors' names (``tulu-2-dpo-7b-ExPO``) both work; our id wins when both are present. The ExPO alpha
of a pair is the selection's chosen alpha (``selection/<pair>.json``), else the published alpha.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

from expo.io.records import read_floats
from expo.naming import model_id
from expo.tables.published import MODEL_ID_RE, Published
from expo.tables.selection import Selection

log = logging.getLogger(__name__)

# metric name -> (benchmark table, column, published key, published sub-key)
PAIR_METRICS = {
    "alpaca_wr": ("alpaca_eval", "win_rate", "alpaca_wr", None),
    "alpaca_lc": ("alpaca_eval", "lc_win_rate", "alpaca_lc", None),
    "mt_bench": ("mt_bench", "score", "mt_bench", None),
    "open_llm_avg": ("open_llm", "average", "open_llm", "average"),
    "open_llm_v2_avg": ("open_llm_v2", "average", "open_llm_v2", "average"),
}
PAIRS_COLUMNS = [
    "pair",
    "metric",
    "expo_alpha",
    "alpha_source",
    "published_alpha",
    "original",
    "expo",
    "delta",
    "published_original",
    "published_expo",
    "published_delta",
    "diff_original",
    "diff_expo",
    "original_model",
    "expo_model",
]
CONTROLLED_COLUMNS = [
    "label",
    "model",
    "alpha",
    "reward",
    "win_rate",
    "lc_win_rate",
    "published_reward",
    "published_win_rate",
    "published_lc_win_rate",
    "diff_reward",
    "diff_win_rate",
    "diff_lc_win_rate",
]
REWARD_COLUMNS = [
    "pair",
    "alpha",
    "mean_reward",
    "reward_se",
    "mean_length",
    "n",
    "chosen",
    "published_alpha",
]

Key = tuple[str, str]  # (pair, alpha) or ("model:", name) for models outside any pair


def key_of(name: str, published: Published) -> Key:
    pair, alpha = published.resolve(name)
    return (pair, alpha) if pair is not None else ("model:", name)


@dataclass
class Index:
    """Rows of every benchmark table by (pair, alpha) key."""

    tables: dict[str, dict[Key, dict]] = field(default_factory=dict)

    def get(self, table: str, key: Key) -> dict | None:
        return self.tables.get(table, {}).get(key)


def build_index(tables: dict[str, list[dict]], published: Published) -> Index:
    index = Index()
    for name, rows in tables.items():
        by_key: dict[Key, dict] = {}
        for row in rows:
            key = key_of(row["model"], published)
            old = by_key.get(key)
            if old is not None:
                ours_new = bool(MODEL_ID_RE.match(row["model"]))
                log.info(
                    "%s: %s and %s are the same model; using %s",
                    name,
                    old["model"],
                    row["model"],
                    row["model"] if ours_new else old["model"],
                )
                if not ours_new:
                    continue
            by_key[key] = row
        index.tables[name] = by_key
    return index


def diff(a: float | None, b: float | None) -> float | None:
    return None if a is None or b is None else a - b


def expo_alpha(pair: str, selections: dict[str, Selection], published: Published) -> tuple[str | None, str]:
    sel = selections.get(pair)
    if sel is not None:
        mode = sel.extra.get("mode")
        source = f"selection ({mode})" if mode else "selection"
        return sel.chosen_alpha, source if sel.chosen_alpha else f"{source}: none beat alpha 0"
    alpha = published.published_alpha(pair)
    return alpha, "published" if alpha else "unknown"


def _selection_reward_rows(
    pair: str, alpha: str | None, source: str, selection: Selection | None, published: Published
) -> list[dict]:
    """The alpha-selection criterion itself: mean reward on the UltraFeedback dev prompts, alpha 0 vs ExPO.

    The paper publishes no per-pair number for it, so the published columns stay blank; this row is what a
    pair without published numbers (a user's own pair, the demo) shows before any judge has run.
    """
    if selection is None:
        return []
    by_alpha = {entry["alpha"]: entry.get("mean_reward") for entry in selection.per_alpha}
    original, expo = by_alpha.get("0.0"), by_alpha.get(alpha) if alpha else None
    return _measured_reward_row(pair, "uf_reward", alpha, source, original, expo, published, name_all=True)


def _measured_reward_row(
    pair: str,
    metric: str,
    alpha: str | None,
    source: str,
    original: float | None,
    expo: float | None,
    published: Published,
    name_all: bool,
) -> list[dict]:
    """A row of a mean reward we measured (none is published): alpha 0 vs ExPO, or no row when neither was
    measured. The model columns name the models of the measured values (``name_all``: alpha 0 and the chosen
    alpha's model even without a value)."""
    if original is None and expo is None:
        return []
    return [
        {
            "pair": pair,
            "metric": metric,
            "expo_alpha": alpha,
            "alpha_source": source,
            "published_alpha": published.published_alpha(pair),
            "original": original,
            "expo": expo,
            "delta": diff(expo, original),
            "original_model": model_id(pair, "0.0") if name_all or original is not None else None,
            "expo_model": model_id(pair, alpha) if alpha and (name_all or expo is not None) else None,
        }
    ]


def controlled_pairs(published: Published) -> set[str]:
    return {r["pair"] for r in published.controlled if "pair" in r}


def _alpaca_reward_row(
    pair: str, alpha: str | None, source: str, rewards: dict[Key, float], published: Published
) -> list[dict]:
    """Mean reward on the AlpacaEval prompts (``rewards_alpaca/``), alpha 0 vs ExPO; no published number."""
    original = rewards.get((pair, "0.0"))
    expo = rewards.get((pair, alpha)) if alpha else None
    return _measured_reward_row(
        pair, "alpaca_reward", alpha, source, original, expo, published, name_all=False
    )


def pairs_view(
    index: Index,
    published: Published,
    selections: dict[str, Selection],
    rewards: dict[Key, float] | None = None,
) -> list[dict]:
    """Per pair: the selection criterion (``uf_reward``), the AlpacaEval-prompt reward (``alpaca_reward``) and
    each benchmark metric, ours beside the published numbers."""
    rewards = rewards or {}
    seen = set(published.pairs) | set(selections) | {k[0] for k in rewards if k[0] != "model:"}
    for by_key in index.tables.values():
        seen |= {k[0] for k in by_key if k[0] != "model:"}
    pairs = [p for p in published.pairs if p in seen] + sorted(seen - set(published.pairs))
    pairs = [p for p in pairs if p not in controlled_pairs(published)]
    rows = []
    for pair in pairs:
        alpha, source = expo_alpha(pair, selections, published)
        rows += _selection_reward_rows(pair, alpha, source, selections.get(pair), published)
        rows += _alpaca_reward_row(pair, alpha, source, rewards, published)
        for metric, (table, column, pub_key, pub_sub) in PAIR_METRICS.items():
            orig_row = index.get(table, (pair, "0.0"))
            expo_row = index.get(table, (pair, alpha)) if alpha else None
            ours_o = orig_row.get(column) if orig_row else None
            ours_e = expo_row.get(column) if expo_row else None
            pub_o = published.value(pair, "original", pub_key, pub_sub)
            pub_e = published.value(pair, "expo", pub_key, pub_sub)
            if all(v is None for v in (ours_o, ours_e, pub_o, pub_e)):
                continue
            rows.append(
                {
                    "pair": pair,
                    "metric": metric,
                    "expo_alpha": alpha,
                    "alpha_source": source,
                    "published_alpha": published.published_alpha(pair),
                    "original": ours_o,
                    "expo": ours_e,
                    "delta": diff(ours_e, ours_o),
                    "published_original": pub_o,
                    "published_expo": pub_e,
                    "published_delta": diff(pub_e, pub_o),
                    "diff_original": diff(ours_o, pub_o),
                    "diff_expo": diff(ours_e, pub_e),
                    "original_model": orig_row["model"] if orig_row else None,
                    "expo_model": expo_row["model"] if expo_row else None,
                }
            )
    return rows


def reward_means(root: Path, published: Published) -> dict[Key, float]:
    """Mean reward on the AlpacaEval prompts per model, from ``rewards_alpaca/<model>.jsonl``."""
    base = Path(root) / "rewards_alpaca"
    out: dict[Key, float] = {}
    if not base.is_dir():
        return out
    for path in sorted(base.glob("*.jsonl")):
        values = read_floats(path)
        if values:
            out[key_of(path.stem, published)] = sum(values) / len(values)
    return out


def controlled_view(
    index: Index, published: Published, selections: dict[str, Selection], rewards: dict[Key, float]
) -> list[dict]:
    rows = []
    for entry in published.controlled:
        if "pair" in entry:
            pair = entry["pair"]
            if entry.get("expo"):
                alpha, _ = expo_alpha(pair, selections, published)
            else:
                alpha = "0.0"
            key = (pair, alpha) if alpha else None
            name = model_id(pair, alpha) if alpha else None
        else:
            alpha, key, name = None, ("model:", entry["model"]), entry["model"]
        alpaca = index.get("alpaca_eval", key) if key else None
        ours = {
            "reward": rewards.get(key) if key else None,
            "win_rate": alpaca.get("win_rate") if alpaca else None,
            "lc_win_rate": alpaca.get("lc_win_rate") if alpaca else None,
        }
        pub = {
            "reward": entry.get("reward"),
            "win_rate": entry.get("alpaca_wr"),
            "lc_win_rate": entry.get("alpaca_lc"),
        }
        row = {"label": entry["label"], "model": alpaca["model"] if alpaca else name, "alpha": alpha}
        for k in ("reward", "win_rate", "lc_win_rate"):
            p = None if pub[k] is None else float(pub[k])
            row[k] = ours[k]
            row[f"published_{k}"] = p
            row[f"diff_{k}"] = diff(ours[k], p)
        rows.append(row)
    return rows


def reward_per_alpha_view(selections: dict[str, Selection], published: Published) -> list[dict]:
    rows = []
    for pair, sel in selections.items():
        for entry in sel.per_alpha:
            rows.append(
                {
                    "pair": pair,
                    **entry,
                    "chosen": entry["alpha"] == sel.chosen_alpha,
                    "published_alpha": published.published_alpha(pair),
                }
            )
    return rows
