"""Plots of the tables (PNG, matplotlib Agg): ExPO gain per pair, and reward against alpha for all pairs."""

from __future__ import annotations

from pathlib import Path

from expo.io.atomic import atomic_file
from expo.tables.selection import Selection

METRIC_TITLES = {
    "uf_reward": "Reward (UltraFeedback dev)",
    "alpaca_reward": "Reward (AlpacaEval prompts)",
    "alpaca_wr": "AlpacaEval WR",
    "alpaca_lc": "AlpacaEval LC",
    "mt_bench": "MT-Bench",
    "open_llm_avg": "Open LLM v1 avg",
    "open_llm_v2_avg": "Open LLM v2 avg",
}


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save(fig, path: Path) -> None:
    with atomic_file(path, "wb") as fh:
        fig.savefig(fh, format="png", dpi=120, bbox_inches="tight")


def measured_panels(pairs_rows: list[dict]) -> list[tuple[str, list[dict]]]:
    """(metric, rows) of every metric with a measured ExPO - Original difference, only the measured rows."""
    panels = []
    for metric in METRIC_TITLES:
        rows = [r for r in pairs_rows if r["metric"] == metric and r.get("delta") is not None]
        if rows:
            panels.append((metric, rows))
    return panels


def plot_gains(pairs_rows: list[dict], path: Path) -> Path:
    """Bars of ExPO - Original per pair, one panel per metric that was measured here (filled), with the
    published difference beside it where the paper has one (hatched). Published-only metrics and pairs are
    left out (they are in paper_pairs.*); with nothing measured, one panel says so."""
    plt = _pyplot()
    panels = measured_panels(pairs_rows)
    fig, axes = plt.subplots(1, max(len(panels), 1), figsize=(5 * max(len(panels), 1), 4.5), squeeze=False)
    if not panels:
        ax = axes[0][0]
        ax.text(
            0.5,
            0.5,
            "nothing measured yet:\nno metric has results for both alpha 0\nand the chosen alpha",
            ha="center",
            va="center",
            transform=ax.transAxes,
        )
        ax.set_axis_off()
        ax.set_title("ExPO - Original")
    for ax, (metric, rows) in zip(axes[0], panels, strict=False):
        y = list(range(len(rows)))
        published = [
            (i, r["published_delta"])
            for i, r in zip(y, rows, strict=True)
            if r.get("published_delta") is not None
        ]
        shift, height = (0.2, 0.4) if published else (0.0, 0.6)
        ax.barh(
            [i - shift for i in y],
            [r["delta"] for r in rows],
            height=height,
            label="measured",
            color="tab:blue",
        )
        if published:
            ax.barh(
                [i + shift for i, _ in published],
                [d for _, d in published],
                height=height,
                label="published",
                color="tab:gray",
                hatch="//",
                alpha=0.7,
            )
        ax.set_ylim(len(rows) - 0.4, -0.6)
        ax.set_yticks(y, [r["pair"] for r in rows], fontsize=8)
        ax.axvline(0, color="black", lw=0.8)
        ax.set_title(f"{METRIC_TITLES[metric]}: ExPO - Original")
        ax.legend(loc="lower right", fontsize=8)
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
