"""Per-benchmark readers of expo tables on synthetic inputs with hand-computed values."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from expo.tables.build import build_tables
from expo.tables.lmeval_results import read_model_results
from expo.tables.mt_bench import score_judgments
from expo.tables.open_llm import open_llm_row
from expo.tables.open_llm_v2 import BBH_CHOICES, normalize, open_llm_v2_row


def write_jsonl(path: Path, rows: list[dict]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))


def judgment(q, model, turn, score):
    return {"question_id": q, "model": model, "judge": ["gpt-4", "single-v1"], "score": score, "turn": turn}


MT_ROWS = [
    judgment(1, "A", 1, 8),
    judgment(2, "A", 1, 6),
    judgment(3, "A", 1, -1),  # unparsable judgment: dropped
    judgment(4, "A", 1, 5),
    judgment(1, "A", 1, 10),  # re-run appended: the last one wins
    judgment(1, "A", 2, 4),
    judgment(2, "A", 2, 5),
    judgment(2, "A", 2, -1),  # a failed re-run does not erase the valid score
    judgment(1, "B", 1, 3),
]


def test_mt_bench_fastchat_averaging():
    scores = score_judgments(MT_ROWS)
    a = scores["A"]
    assert a["turn1"] == pytest.approx((10 + 6 + 5) / 3)
    assert a["turn2"] == pytest.approx((4 + 5) / 2)
    assert a["score"] == pytest.approx((10 + 6 + 5 + 4 + 5) / 5)  # pooled, not (turn1 + turn2) / 2
    assert a["n_judgments"] == 5 and a["n_failed"] == 1  # question 3 turn 1 has no valid score
    assert scores["B"]["turn2"] is None and scores["B"]["score"] == 3


def lmeval_04(results: dict, **extra) -> dict:
    return {"results": results, "versions": {}, "lm_eval_version": "0.4.13", **extra}


MMLU_SUBJECTS = [f"mmlu_subject_{i:02d}" for i in range(57)]
MMLU_EXPECTED = (56 * 0.5 + 0.8) / 57 * 100


def v1_results() -> dict:
    res = {
        "arc_challenge": {"acc,none": 0.1, "acc_norm,none": 0.5, "alias": "arc_challenge"},
        "hellaswag": {"acc,none": 0.2, "acc_norm,none": 0.8},
        "truthfulqa_mc2": {"acc,none": 0.45},
        "winogrande": {"acc,none": 0.7},
        "gsm8k": {"exact_match,strict-match": 0.3, "exact_match,flexible-extract": 0.35},
        "mmlu": {"acc,none": 0.9},  # size-weighted group value: must not be used
        "mmlu_stem": {"acc,none": 0.1},
    }
    for i, subject in enumerate(MMLU_SUBJECTS):
        res[subject] = {"acc,none": 0.8 if i == 56 else 0.5}
    return res


def test_open_llm_v1_from_lmeval_04(tmp_path):
    folder = tmp_path / "m"
    folder.mkdir()
    res = v1_results()
    groups = {"mmlu": ["mmlu_stem"], "mmlu_stem": MMLU_SUBJECTS}
    # one raw lm-eval file plus per-task files; a raw/ subfolder is not read
    (folder / "results_2026-01-01T00-00-00.json").write_text(
        json.dumps(lmeval_04({k: v for k, v in res.items() if k != "gsm8k"}, group_subtasks=groups))
    )
    (folder / "gsm8k.json").write_text(json.dumps(lmeval_04({"gsm8k": res["gsm8k"]})))
    (folder / "raw").mkdir()
    (folder / "raw" / "results_x.json").write_text("{not json")
    row = open_llm_row(read_model_results("m", folder))
    assert row["arc"] == pytest.approx(50.0)
    assert row["hellaswag"] == pytest.approx(80.0)
    assert row["mmlu"] == pytest.approx(MMLU_EXPECTED)
    assert row["truthfulqa"] == pytest.approx(45.0)
    assert row["winogrande"] == pytest.approx(70.0)
    assert row["gsm8k"] == pytest.approx(30.0)  # strict-match, not flexible-extract
    assert row["average"] == pytest.approx((50 + 80 + MMLU_EXPECTED + 45 + 70 + 30) / 6)


def test_open_llm_partial_model_leaves_blanks(tmp_path):
    folder = tmp_path / "m"
    folder.mkdir()
    (folder / "arc.json").write_text(json.dumps(lmeval_04({"arc_challenge": {"acc_norm,none": 0.25}})))
    row = open_llm_row(read_model_results("m", folder))
    assert row["arc"] == pytest.approx(25.0)
    assert row["mmlu"] is None and row["average"] is None


def v2_results() -> dict:
    res = {
        "leaderboard_ifeval": {
            "prompt_level_strict_acc,none": 0.4,
            "inst_level_strict_acc,none": 0.5,
            "prompt_level_loose_acc,none": 0.9,
        },
        "leaderboard_gpqa": {"acc_norm,none": 0.3},
        "leaderboard_musr_murder_mysteries": {"acc_norm,none": 0.6},
        "leaderboard_musr_object_placements": {"acc_norm,none": 0.2},
        "leaderboard_musr_team_allocation": {"acc_norm,none": 0.5},
        "leaderboard_mmlu_pro": {"acc,none": 0.28},
        "leaderboard_math_algebra_hard": {"exact_match,none": 0.2},
    }
    for sub in (
        "counting_and_prob",
        "geometry",
        "intermediate_algebra",
        "num_theory",
        "prealgebra",
        "precalc",
    ):
        res[f"leaderboard_math_{sub}_hard"] = {"exact_match,none": 0.1}
    for sub, k in BBH_CHOICES.items():
        res[f"leaderboard_bbh_{sub}"] = {"acc_norm,none": 1.0 / k}  # random baseline -> 0
    res["leaderboard_bbh_causal_judgement"] = {"acc_norm,none": 0.75}  # 2 choices -> 50
    res["leaderboard_bbh_object_counting"] = {"acc_norm,none": 0.01}  # below baseline -> 0
    return res


def test_open_llm_v2_normalisation(tmp_path):
    folder = tmp_path / "m"
    folder.mkdir()
    n_samples = {
        f"leaderboard_math_{s}_hard": {"original": 100, "effective": 100}
        for s in (
            "counting_and_prob",
            "geometry",
            "intermediate_algebra",
            "num_theory",
            "prealgebra",
            "precalc",
        )
    }
    n_samples["leaderboard_math_algebra_hard"] = {"original": 300, "effective": 300}
    (folder / "results_2026.json").write_text(json.dumps(lmeval_04(v2_results(), **{"n-samples": n_samples})))
    row = open_llm_v2_row(read_model_results("m", folder))
    expected = {
        "ifeval": 45.0,
        "bbh": 50.0 / 24,
        "math_lvl5": (300 * 0.2 + 600 * 0.1) / 900 * 100,
        "gpqa": (0.3 - 0.25) / 0.75 * 100,
        "musr": (20.0 + 0.0 + 25.0) / 3,
        "mmlu_pro": (0.28 - 0.1) / 0.9 * 100,
    }
    for key, value in expected.items():
        assert row[key] == pytest.approx(value), key
    assert row["average"] == pytest.approx(sum(expected.values()) / 6)


def test_normalize_clamps_below_baseline():
    assert normalize(0.2, 0.25) == 0.0
    assert normalize(1.0, 0.25) == pytest.approx(100.0)
    assert normalize(0.625, 0.25) == pytest.approx(50.0)


def test_build_with_mt_bench_and_v2_and_missing_benchmarks(tmp_path):
    root = tmp_path / "root"
    write_jsonl(root / "results_mtbench" / "mt_bench" / "model_judgment" / "gpt-4_single.jsonl", MT_ROWS)
    folder = root / "results_lmeval" / "A"
    folder.mkdir(parents=True)
    (folder / "results_2026.json").write_text(json.dumps(lmeval_04(v2_results())))
    build_tables(root, tmp_path / "out", plots_enabled=False)
    with open(tmp_path / "out" / "mt_bench.csv", newline="") as fh:
        mt = {r["model"]: r for r in csv.DictReader(fh)}
    assert float(mt["A"]["score"]) == pytest.approx(6.0)
    assert mt["A"]["judge"] == "gpt-4"
    assert mt["B"]["turn2"] == ""
    with open(tmp_path / "out" / "open_llm_v2.csv", newline="") as fh:
        v2 = {r["model"]: r for r in csv.DictReader(fh)}
    assert float(v2["A"]["ifeval"]) == pytest.approx(45.0)
    assert v2["A"]["math_lvl5"] != ""  # unweighted fallback without n-samples
    # an empty table is not header-only: one row whose note says why (here: no v1 task under results_lmeval/)
    with open(tmp_path / "out" / "open_llm.csv", newline="") as fh:
        v1 = list(csv.DictReader(fh))
    assert list(v1[0]) == [
        "model",
        "arc",
        "hellaswag",
        "mmlu",
        "truthfulqa",
        "winogrande",
        "gsm8k",
        "average",
        "note",
    ]
    assert len(v1) == 1 and v1[0]["model"] == ""
    assert v1[0]["note"].startswith(
        "Open LLM Leaderboard v1 not run: results_lmeval/ holds none of its tasks (only "
    )
