"""expo select-alpha: per-alpha statistics, argmax / "none" / published choice, length checks, and the plot."""

from __future__ import annotations

import json
import math

import pytest

from expo.cli import main
from expo.selection.stats import read_chosen_alpha


def make_sweep(
    tmp_path, rewards_by_alpha: dict[str, list[float]], lengths: dict[str, list[int]] | None = None
):
    args_r, args_o = [], []
    for alpha, rewards in rewards_by_alpha.items():
        r = tmp_path / f"rewards_alpha{alpha}.jsonl"
        r.write_text("".join(f"{v}\n" for v in rewards))
        lens = (lengths or {}).get(alpha, [10] * len(rewards))
        o = tmp_path / f"outputs_alpha{alpha}.jsonl"
        o.write_text("".join(json.dumps({"prompt": f"p{i}", "output": "x", "length": n, "finish_reason": "stop"}) + "\n"
                             for i, n in enumerate(lens)))  # fmt: skip
        args_r.append(f"{alpha}={r}")
        args_o.append(f"{alpha}={o}")
    return args_r, args_o


def select(tmp_path, capsys, args_r, args_o, *extra):
    out, plot = tmp_path / "selection" / "demo.json", tmp_path / "selection" / "demo.png"
    rc = main(["select-alpha", "--pair", "demo", "--rewards", *args_r, "--outputs", *args_o,
               "--out", str(out), "--plot", str(plot), *extra])  # fmt: skip
    return rc, out, plot, capsys.readouterr().err


def test_argmax_with_stats_and_plot(tmp_path, capsys):
    args_r, args_o = make_sweep(
        tmp_path,
        {"0.0": [1.0, 2.0, 3.0], "0.1": [2.0, 3.0, 4.0], "0.3": [4.0, 5.0, 6.0], "0.5": [3.0, 3.0, 3.0]},
        {"0.0": [10, 20, 30], "0.1": [10, 10, 10], "0.3": [40, 50, 60], "0.5": [100, 100, 100]},
    )
    rc, out, plot, err = select(tmp_path, capsys, args_r, args_o)
    assert rc == 0, err
    result = json.loads(out.read_text())
    assert result["chosen_alpha"] == "0.3" and result["mode"] == "sweep"
    assert list(result["alphas"]) == ["0.0", "0.1", "0.3", "0.5"]
    s = result["alphas"]["0.3"]
    assert s["n"] == 3 and s["mean_reward"] == pytest.approx(5.0) and s["mean_length"] == pytest.approx(50.0)
    assert s["stderr"] == pytest.approx(1.0 / math.sqrt(3))
    assert result["alphas"]["0.5"]["stderr"] == 0.0
    assert read_chosen_alpha(out) == "0.3"
    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_none_when_no_alpha_beats_the_aligned_model(tmp_path, capsys):
    args_r, args_o = make_sweep(tmp_path, {"0.0": [5.0, 5.0], "0.2": [4.0, 5.0], "0.4": [5.0, 5.0]})
    rc, out, plot, err = select(tmp_path, capsys, args_r, args_o)
    assert rc == 0, err
    assert json.loads(out.read_text())["chosen_alpha"] == "none"
    assert read_chosen_alpha(out) is None
    assert plot.exists()


def test_published_mode_takes_the_published_alpha(tmp_path, capsys):
    args_r, args_o = make_sweep(tmp_path, {"0.0": [1.0, 2.0], "0.5": [0.0, 0.0]})
    rc, out, _, err = select(
        tmp_path, capsys, args_r, args_o, "--mode", "published", "--published-alpha", "0.50"
    )
    assert rc == 0, err
    result = json.loads(out.read_text())
    assert result["chosen_alpha"] == "0.5" and result["mode"] == "published"
    assert result["alphas"]["0.5"]["mean_reward"] == 0.0  # sweep stats still reported
    rc, out, _, err = select(tmp_path, capsys, args_r, args_o, "--mode", "published")
    assert rc == 2 and "--published-alpha" in err


def test_length_mismatch_names_both_files(tmp_path, capsys):
    args_r, args_o = make_sweep(tmp_path, {"0.0": [1.0, 2.0], "0.1": [1.0, 2.0]})
    (tmp_path / "rewards_alpha0.1.jsonl").write_text("1.0\n")
    rc, out, plot, err = select(tmp_path, capsys, args_r, args_o)
    assert rc == 2
    assert "alpha 0.1" in err and "rewards_alpha0.1.jsonl has 1 values" in err
    assert "outputs_alpha0.1.jsonl has 2 outputs" in err
    assert not out.exists() and not plot.exists()


def test_other_errors(tmp_path, capsys):
    args_r, args_o = make_sweep(tmp_path, {"0.0": [1.0], "0.1": [2.0]})
    rc, *_, err = select(tmp_path, capsys, args_r, args_o[:1])
    assert rc == 2 and "differ" in err
    rc, *_, err = select(tmp_path, capsys, args_r[1:], args_o[1:])
    assert rc == 2 and "alpha 0.0" in err
    rc, *_, err = select(tmp_path, capsys, ["0.1"], args_o[1:])
    assert rc == 2 and "expected ALPHA=FILE" in err
    (tmp_path / "rewards_alpha0.1.jsonl").write_text("abc\n")
    rc, *_, err = select(tmp_path, capsys, args_r, args_o)
    assert rc == 2 and "rewards_alpha0.1.jsonl:1: not a number" in err
