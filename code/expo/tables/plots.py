"""Plots of the tables (PNG, matplotlib Agg): ExPO gain per pair, and reward against alpha for all pairs."""

from __future__ import annotations

from pathlib import Path

from expo.io.atomic import atomic_file
from expo.tables.selection import Selection

GAIN_METRICS = [("alpaca_wr", "AlpacaEval WR"), ("alpaca_lc", "AlpacaEval LC"), ("mt_bench", "MT-Bench")]


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save(fig, path: Path) -> None:
    with atomic_file(path, "wb") as fh:
        fig.savefig(fh, format="png", dpi=120, bbox_inches="tight")


def plot_gains(pairs_rows: list[dict], path: Path) -> Path:
    """Bars of ExPO - Original per pair (ours filled, published hatched), one panel per metric."""
    plt = _pyplot()
    fig, axes = plt.subplots(1, len(GAIN_METRICS), figsize=(5 * len(GAIN_METRICS), 4.5), squeeze=False)
    for ax, (metric, title) in zip(axes[0], GAIN_METRICS, strict=True):
        rows = [r for r in pairs_rows if r["metric"] == metric]
        labels = [r["pair"] for r in rows]
        ours = [r["delta"] if r["delta"] is not None else 0.0 for r in rows]
        pub = [r["published_delta"] if r["published_delta"] is not None else 0.0 for r in rows]
        y = range(len(rows))
        ax.barh([i - 0.2 for i in y], ours, height=0.4, label="ours", color="tab:blue")
        ax.barh(
            [i + 0.2 for i in y], pub, height=0.4, label="published", color="tab:gray", hatch="//", alpha=0.7
        )
        ax.set_yticks(list(y), labels, fontsize=8)
        ax.axvline(0, color="black", lw=0.8)
        ax.set_title(f"{title}: ExPO - Original")
        if not rows:
            ax.text(0.5, 0.5, "no data", ha="center", va="center", transform=ax.transAxes)
        ax.invert_yaxis()
    axes[0][0].legend(loc="lower right", fontsize=8)
    fig.tight_layout()
    _save(fig, path)
    plt.close(fig)
    return path


def plot_reward_curves(selections: dict[str, Selection], path: Path) -> Path:
    """Mean reward (left) and mean length (right) against alpha, one curve per pair, chosen alpha marked."""
    plt = _pyplot()
    fig, (ax_r, ax_l) = plt.subplots(1, 2, figsize=(11, 4.5))
    for pair, sel in selections.items():
        alphas = [float(e["alpha"]) for e in sel.per_alpha]
        rewards = [e["mean_reward"] for e in sel.per_alpha]
        (line,) = ax_r.plot(alphas, rewards, marker="o", ms=3, label=pair)
        if sel.chosen_alpha is not None:
            ax_r.axvline(float(sel.chosen_alpha), color=line.get_color(), ls="--", lw=0.8)
        lengths = [
            (float(e["alpha"]), e["mean_length"]) for e in sel.per_alpha if e["mean_length"] is not None
        ]
        if lengths:
            ax_l.plot(*zip(*lengths, strict=True), marker="o", ms=3, color=line.get_color(), label=pair)
    if max((float(e["alpha"]) for s in selections.values() for e in s.per_alpha), default=0.0) > 5:
        for ax in (ax_r, ax_l):  # controlled runs reach alpha 25-30: keep the small alphas readable
            ax.set_xscale("symlog", linthresh=0.1)
    ax_r.set_xlabel("alpha")
    ax_r.set_ylabel("mean reward")
    ax_r.set_title("Reward vs alpha (dashed: chosen alpha)")
    ax_l.set_xlabel("alpha")
    ax_l.set_ylabel("mean response length")
    ax_l.set_title("Length vs alpha")
    if selections:
        ax_r.legend(fontsize=7)
    else:
        ax_r.text(0.5, 0.5, "no selection results", ha="center", va="center", transform=ax_r.transAxes)
    fig.tight_layout()
    _save(fig, path)
    plt.close(fig)
    return path
