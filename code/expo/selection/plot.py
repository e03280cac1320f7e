"""The selection plot (paper Figure 4 style): mean reward (left) and mean length (right) against alpha."""

from __future__ import annotations

import os

from expo.io.atomic import atomic_file


def plot_selection(result: dict, out: str | os.PathLike) -> None:
    """PNG with error bars on the reward panel and a dashed line at the chosen alpha (if any)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    alphas = sorted(result["alphas"], key=float)
    xs = [float(a) for a in alphas]
    stats = [result["alphas"][a] for a in alphas]
    fig, (left, right) = plt.subplots(1, 2, figsize=(9, 3.6))
    left.errorbar(
        xs, [s["mean_reward"] for s in stats], yerr=[s["stderr"] for s in stats], marker="o", capsize=3
    )
    left.set_xlabel("alpha")
    left.set_ylabel("mean reward")
    left.set_title("reward on UltraFeedback dev prompts")
    lengths = [(x, s["mean_length"]) for x, s in zip(xs, stats, strict=True) if s["mean_length"] is not None]
    if lengths:
        right.plot([x for x, _ in lengths], [y for _, y in lengths], marker="o", color="tab:orange")
    right.set_xlabel("alpha")
    right.set_ylabel("mean length (tokens)")
    right.set_title("response length")
    chosen = result.get("chosen_alpha")
    label = "ExPO not applied (no alpha beats 0)" if chosen in (None, "none") else f"chosen alpha = {chosen}"
    if chosen not in (None, "none"):
        for ax in (left, right):
            ax.axvline(float(chosen), linestyle="--", color="gray")
    fig.suptitle(f"{result['pair']}: {label} ({result['mode']})")
    fig.tight_layout()
    with atomic_file(out, "wb") as fh:
        fig.savefig(fh, format="png", dpi=100)
    plt.close(fig)
