"""expo tables views: our (pair, alpha) ids with selection results, controlled runs, reward per alpha, LC,
provenance and plots, on synthetic results."""

from __future__ import annotations

import csv
import json
import random
from pathlib import Path

import pytest

from expo.tables.alpaca import ALPACA_EVAL_SIZE, alpaca_row
from expo.tables.build import build_tables

PUB = """
aliases:
  authors-sft: {model: authors-sft}
pairs:
  p1:
    alpha: 0.5
    original: {alpaca_wr: 10.0, mt_bench: 6.0}
    expo: {alpaca_wr: 20.0, mt_bench: 7.0}
controlled:
  - {label: sft, model: authors-sft, reward: 1.0, alpaca_wr: 3.0}
  - {label: c, pair: c1, expo: false, reward: 2.0, alpaca_wr: 4.0}
  - {label: c + ExPO, pair: c1, expo: true, alpha: 8.0, reward: 5.0, alpaca_wr: 9.0}
"""


def annotations(model: str, prefs: list[float], out_len: int = 10) -> list[dict]:
    return [
        {
            "instruction": f"i{i}",
            "output_1": "r" * 20,
            "generator_1": "gpt4_1106_preview",
            "output_2": "o" * out_len,
            "generator_2": model,
            "annotator": "weighted_alpaca_eval_gpt4_turbo",
            "preference": p,
        }
        for i, p in enumerate(prefs)
    ]


def put_json(path: Path, obj) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(obj))


def judgments(model: str, score: float) -> list[dict]:
    return [
        {"question_id": q, "model": model, "judge": ["gpt-4", "single-v1"], "score": score, "turn": t}
        for q in (1, 2)
        for t in (1, 2)
    ]


@pytest.fixture
def root(tmp_path) -> Path:
    root = tmp_path / "root"
    put_json(
        root / "results_alpaca" / "p1_alpha0.0" / "annotations.json", annotations("p1_alpha0.0", [1, 2, 1, 1])
    )
    put_json(
        root / "results_alpaca" / "p1_alpha0.3" / "annotations.json",
        annotations("p1_alpha0.3", [2, 2, 1, 1.5]),
    )
    put_json(
        root / "results_alpaca" / "authors-sft" / "annotations.json", annotations("authors-sft", [1, 1, 1, 2])
    )
    put_json(root / "results_alpaca" / "c1_alpha0.0" / "annotations.json", annotations("c1_alpha0.0", [2, 1]))
    jl = root / "results_mtbench" / "mt_bench" / "model_judgment" / "gpt-4_single.jsonl"
    jl.parent.mkdir(parents=True)
    jl.write_text(
        "".join(json.dumps(r) + "\n" for r in judgments("p1_alpha0.0", 6.5) + judgments("p1_alpha0.3", 7.5))
    )
    per_alpha = [
        {"alpha": a, "mean_reward": r, "se": 0.1, "mean_length": ln, "n": 100}
        for a, r, ln in [(0.0, 1.0, 200), (0.1, 1.5, 210), (0.3, 2.0, 250), (0.5, 1.8, 400)]
    ]
    # p1: the selection stage's format ("alphas" by alpha); c1: a "per_alpha" list
    alphas = {
        str(e["alpha"]): {
            "n": 100,
            "mean_reward": e["mean_reward"],
            "stderr": 0.1,
            "mean_length": e["mean_length"],
        }
        for e in per_alpha
    }
    put_json(
        root / "selection" / "p1.json",
        {"pair": "p1", "mode": "sweep", "chosen_alpha": "0.3", "alphas": alphas},
    )
    put_json(root / "selection" / "c1.json", {"chosen_alpha": "none", "per_alpha": per_alpha[:2]})
    (root / "rewards_alpaca").mkdir()
    (root / "rewards_alpaca" / "c1_alpha0.0.jsonl").write_text("1.0\n2.0\n4.5\n")
    put_json(
        root / "models" / "p1_alpha0.3" / "expo_provenance.json",
        {"alpha": 0.3, "precision": "reference", "expo_version": "0.1.0"},
    )
    put_json(
        root / "outputs_alpaca" / "p1_alpha0.3.provenance.json",
        {"sampling": {"temperature": 0.7, "top_p": 0.9}, "versions": {"vllm": "0.33.0"}},
    )
    return root


def rows(path: Path) -> list[dict]:
    with open(path, newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def test_views_use_selection_alpha_and_published(root, tmp_path):
    pub = tmp_path / "pub.yaml"
    pub.write_text(PUB)
    build_tables(root, tmp_path / "out", published_path=pub)
    out = tmp_path / "out"
    pairs = {r["metric"]: r for r in rows(out / "paper_pairs.csv") if r["pair"] == "p1"}
    wr = pairs["alpaca_wr"]
    assert (wr["expo_alpha"], wr["alpha_source"], wr["published_alpha"]) == (
        "0.3",
        "selection (sweep)",
        "0.5",
    )
    assert float(wr["original"]) == pytest.approx(25.0) and float(wr["expo"]) == pytest.approx(62.5)
    assert float(wr["delta"]) == pytest.approx(37.5)
    assert float(wr["published_delta"]) == pytest.approx(10.0)
    assert float(wr["diff_expo"]) == pytest.approx(42.5)
    mt = pairs["mt_bench"]
    assert float(mt["delta"]) == pytest.approx(1.0) and float(mt["published_delta"]) == pytest.approx(1.0)
    uf = pairs[
        "uf_reward"
    ]  # the selection criterion: UltraFeedback dev reward at alpha 0 vs the chosen alpha
    assert (float(uf["original"]), float(uf["expo"]), float(uf["delta"])) == (1.0, 2.0, 1.0)
    assert uf["published_original"] == "" and uf["expo_model"] == "p1_alpha0.3"
    assert "open_llm_avg" not in pairs  # no results and nothing published: no row
    assert "alpaca_lc" not in pairs  # no df_gamed and nothing published: no row

    controlled = {r["label"]: r for r in rows(out / "paper_controlled.csv")}
    assert float(controlled["sft"]["win_rate"]) == pytest.approx(25.0)
    assert float(controlled["c"]["reward"]) == pytest.approx(2.5)
    assert float(controlled["c"]["diff_reward"]) == pytest.approx(0.5)
    # c1's selection found no alpha beating 0: ExPO row has no alpha and blank results
    assert controlled["c + ExPO"]["alpha"] == "" and controlled["c + ExPO"]["win_rate"] == ""

    reward = [r for r in rows(out / "reward_per_alpha.csv") if r["pair"] == "p1"]
    assert [r["alpha"] for r in reward] == ["0.0", "0.1", "0.3", "0.5"]
    assert [r["chosen"] for r in reward] == ["false", "false", "true", "false"]
    assert reward[0]["n"] == "100" and reward[3]["published_alpha"] == "0.5"
    assert [float(r["mean_reward"]) for r in reward] == [1.0, 1.5, 2.0, 1.8]
    assert float(reward[0]["reward_se"]) == 0.1 and float(reward[3]["mean_length"]) == 400.0

    prov = {r["model"]: r for r in rows(out / "provenance.csv")}
    p13 = prov["p1_alpha0.3"]
    assert (p13["alpha_source"], p13["precision"], p13["mt_bench_judge"]) == (
        "selection",
        "reference",
        "gpt-4",
    )
    assert p13["sampling"] == "temperature=0.7; top_p=0.9"
    assert "expo=0.1.0" in p13["versions"] and "vllm=0.33.0" in p13["versions"]
    assert prov["p1_alpha0.0"]["sampling"] == ""  # no sidecar: blank
    for png in ("expo_gain.png", "reward_vs_alpha.png"):
        assert (out / png).stat().st_size > 1000


def test_lc_from_local_df_gamed_never_touches_hub(tmp_path, monkeypatch):
    """LC through alpaca_eval's GLM with a local df_gamed-like file (synthetic: the real one is on the hub)."""
    import huggingface_hub

    def no_hub(*args, **kwargs):
        raise AssertionError("hub download attempted")

    monkeypatch.setattr(huggingface_hub, "hf_hub_download", no_hub)
    rng = random.Random(0)
    gamed = ["model,index,instruction_difficulty,preference,std_delta_len,not_gamed_baseline"]
    difficulty = [rng.uniform(-1, 1) for _ in range(ALPACA_EVAL_SIZE)]
    for name, delta in (("gamed_long", -1.5), ("gamed_short", 1.5)):  # one block per model, like df_gamed.csv
        for i in range(ALPACA_EVAL_SIZE):
            gamed.append(f"{name},{i},{difficulty[i]},{rng.random()},{delta},False")
    df_gamed = tmp_path / "df_gamed.csv"
    df_gamed.write_text("\n".join(gamed) + "\n")
    prefs = [rng.choice([1.0, 1.2, 1.8, 2.0]) for _ in range(ALPACA_EVAL_SIZE)]
    ann = annotations("m", prefs)
    for i, row in enumerate(ann):
        row["output_2"] = "o" * (5 + i % 50)
    path = tmp_path / "m" / "annotations.json"
    put_json(path, ann)
    row = alpaca_row("m", path, df_gamed)
    # the reference: alpaca_eval's GLM called directly, its (module-level) hub download answered by the file
    import pandas as pd
    from alpaca_eval.metrics import glm_winrate

    with monkeypatch.context() as m:
        m.setattr(glm_winrate, "hf_hub_download", lambda *a, **k: str(df_gamed))
        ref = glm_winrate.get_length_controlled_winrate(
            pd.DataFrame(ann), save_weights_dir=None, is_add_glm_preference_inplace=False
        )
    assert row["lc_win_rate"] == pytest.approx(ref["length_controlled_winrate"], abs=1e-9)
    assert row["lc_win_rate"] != pytest.approx(row["win_rate"], abs=1e-3)
    assert "df_gamed.csv" in row["lc_note"]
    no_lc = alpaca_row("m", path, None)
    assert no_lc["lc_win_rate"] is None and no_lc["win_rate"] == row["win_rate"]


def test_lc_from_alpaca_stage_leaderboard(tmp_path):
    path = tmp_path / "m" / "annotations.json"
    put_json(path, annotations("m", [1, 2]))
    (path.parent / "leaderboard.csv").write_text(
        ",win_rate,length_controlled_winrate,judge\nm,50.0,42.5,my-judge\n"
    )
    row = alpaca_row("m", path, None)
    assert row["lc_win_rate"] == 42.5 and "leaderboard.csv" in row["lc_note"]
    assert row["judge"] == "my-judge"  # the judge the AlpacaEval stage named
