"""expo tables: bad input gets one line naming the file, and leaves no output behind."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from expo.cli import main
from expo.errors import ExpoError
from expo.tables.build import build_tables


def annotation(generator: str, pref: float = 2.0) -> dict:
    return {
        "instruction": "i",
        "output_1": "ref",
        "generator_1": "gpt4_1106_preview",
        "output_2": "out",
        "generator_2": generator,
        "annotator": "weighted_alpaca_eval_gpt4_turbo",
        "preference": pref,
    }


def put(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def run_cli(tmp_path, capsys, *extra) -> tuple[int, str]:
    rc = main(
        ["tables", "--from", str(tmp_path / "root"), "--out", str(tmp_path / "out"), "--no-plots", *extra]
    )
    return rc, capsys.readouterr().err.strip()


def test_malformed_annotations_json_names_file_and_line(tmp_path, capsys):
    bad = put(tmp_path / "root" / "results_alpaca" / "m" / "annotations.json", '[\n{"preference": 2,\n')
    rc, err = run_cli(tmp_path, capsys)
    assert rc == 2
    assert len(err.splitlines()) == 1
    assert str(bad) in err and "line 3" in err
    assert not (tmp_path / "out").exists()


def test_annotations_of_two_generators_rejected(tmp_path):
    put(
        tmp_path / "root" / "results_alpaca" / "m" / "annotations.json",
        json.dumps([annotation("m1"), annotation("m2")]),
    )
    with pytest.raises(
        ExpoError, match=r"annotations\.json: annotations of more than one generator \(m1, m2\)"
    ):
        build_tables(tmp_path / "root", tmp_path / "out")


def test_non_numeric_preference_rejected(tmp_path):
    put(
        tmp_path / "root" / "results_alpaca" / "m" / "annotations.json",
        json.dumps([annotation("m"), annotation("m", "oops")]),
    )
    with pytest.raises(ExpoError, match=r"annotation 1 has a non-numeric preference 'oops'"):
        build_tables(tmp_path / "root", tmp_path / "out")


def test_malformed_judgment_jsonl_names_line(tmp_path, capsys):
    line = json.dumps({"question_id": 1, "model": "m", "score": 5, "turn": 1})
    bad = put(
        tmp_path / "root" / "results_mtbench" / "mt_bench" / "model_judgment" / "gpt-4_single.jsonl",
        f"{line}\n{{oops\n",
    )
    rc, err = run_cli(tmp_path, capsys)
    assert rc == 2 and f"{bad}:2: malformed JSON line" in err


def test_judgment_without_score_rejected(tmp_path):
    put(
        tmp_path / "root" / "results_mtbench" / "mt_bench" / "model_judgment" / "gpt-4_single.jsonl",
        json.dumps({"question_id": 1, "model": "m", "turn": 1}) + "\n",
    )
    with pytest.raises(ExpoError, match=r"gpt-4_single\.jsonl: record 1 lacks field\(s\) score"):
        build_tables(tmp_path / "root", tmp_path / "out")


def test_lmeval_task_without_its_metric_rejected(tmp_path, capsys):
    bad = put(
        tmp_path / "root" / "results_lmeval" / "m" / "arc.json",
        json.dumps({"results": {"arc_challenge": {"acc,none": 0.5}}}),
    )
    rc, err = run_cli(tmp_path, capsys)
    assert rc == 2
    assert f"{bad}: task arc_challenge lacks metric acc_norm,none / acc_norm" in err


def test_lmeval_file_without_results_rejected(tmp_path):
    put(tmp_path / "root" / "results_lmeval" / "m" / "x.json", json.dumps({"foo": 1}))
    with pytest.raises(ExpoError, match=r"x\.json: not an lm-eval results file"):
        build_tables(tmp_path / "root", tmp_path / "out")


def test_incomplete_mmlu_rejected(tmp_path):
    put(
        tmp_path / "root" / "results_lmeval" / "m" / "mmlu.json",
        json.dumps({"results": {"hendrycksTest-anatomy": {"acc": 0.5}}}),
    )
    with pytest.raises(ExpoError, match=r"mmlu\.json: 1 MMLU subjects, expected 57"):
        build_tables(tmp_path / "root", tmp_path / "out")


def test_bad_selection_and_published_files(tmp_path):
    (tmp_path / "root").mkdir()
    put(tmp_path / "root" / "selection" / "p.json", json.dumps({"chosen_alpha": "abc", "per_alpha": []}))
    with pytest.raises(ExpoError, match=r"p\.json: chosen_alpha: alpha 'abc' is not a number"):
        build_tables(tmp_path / "root", tmp_path / "out")
    pub = put(tmp_path / "pub.yaml", "pairs:\n  p: {original: {alpaca_wr: high}}\n")
    with pytest.raises(ExpoError, match=r"pub\.yaml: pairs\.p\.original\.alpaca_wr is not a number"):
        build_tables(tmp_path / "root", tmp_path / "out2", published_path=pub)


def test_refuses_to_replace_a_foreign_folder(tmp_path):
    (tmp_path / "root").mkdir()
    put(tmp_path / "out" / "precious.txt", "keep me")
    with pytest.raises(ExpoError, match="not written by expo tables"):
        build_tables(tmp_path / "root", tmp_path / "out")
    assert (tmp_path / "out" / "precious.txt").read_text() == "keep me"


def test_rerun_replaces_own_output(tmp_path):
    (tmp_path / "root").mkdir()
    build_tables(tmp_path / "root", tmp_path / "out", plots_enabled=False)
    build_tables(tmp_path / "root", tmp_path / "out", plots_enabled=False)
    assert (tmp_path / "out" / "alpaca_eval.csv").is_file()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out", "root"]
