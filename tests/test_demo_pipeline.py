"""The embedded CPU demo end to end through Snakemake (in a copy of the repository), then: adding a second
pair to the config schedules only that pair's jobs plus the final aggregation."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from helpers.snakemake_run import run_snakemake

ROOT = Path(__file__).resolve().parents[1]
AGGREGATION_RULES = {"all", "tables", "mt_bench_scores"}


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory):
    """A copy of the tracked repository with the demo DAG run to completion in it."""
    work = tmp_path_factory.mktemp("demo_pipeline") / "repo"
    files = subprocess.run(
        ["git", "ls-files", "-co", "--exclude-standard"], cwd=ROOT, capture_output=True, text=True
    )
    names = files.stdout.splitlines() if files.returncode == 0 else []
    if not names:
        pytest.skip("not a git checkout: cannot copy the repository")
    for name in names:
        src = ROOT / name
        if src.is_file():
            dst = work / name
            dst.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dst)
    res = run_snakemake(["--cores", "2", "--configfile", "config/demo.yaml"], cwd=work)
    assert res.returncode == 0, res.stdout[-4000:] + res.stderr[-4000:]
    return work, res


def read_csv(path: Path) -> list[dict]:
    import csv

    with open(path, newline="") as fh:
        return list(csv.DictReader(fh))


def test_demo_runs_every_stage(demo_run):
    repo, res = demo_run
    # the demo's outputs live under its own results root, never beside the paper config's
    work = repo / yaml.safe_load((repo / "config/demo.yaml").read_text())["results_root"]
    assert not (repo / "selection").exists() and not list((repo / "outputs_ultrafeedback").glob("demo_*"))
    selection = json.loads((work / "selection/demo.json").read_text())
    grid = yaml.safe_load((repo / "config/demo.yaml").read_text())["alpha_grid"]
    assert set(selection["alphas"]) == {"0.0"} | {repr(float(a)) for a in grid}
    assert (work / "selection/demo.png").stat().st_size > 0
    # the demo pair is built so that extrapolation beats the aligned model (expo.demo.build): an alpha is chosen
    chosen = selection["chosen_alpha"]
    assert chosen in {repr(float(a)) for a in grid}, chosen
    models = ["demo_alpha0.0", f"demo_alpha{chosen}"]
    for model in models:
        outputs = json.loads((work / f"outputs_alpaca/{model}.json").read_text())
        rewards = (work / f"rewards_alpaca/{model}.jsonl").read_text().split()
        assert len(outputs) == len(rewards) > 0
        assert {"dataset", "instruction", "output", "generator"} <= set(outputs[0])
        assert list((work / f"results_lmeval/{model}").glob("*.json"))
    for alpha in selection["alphas"]:
        lines = (work / f"outputs_ultrafeedback/demo_alpha{alpha}.jsonl").read_text().splitlines()
        assert {"prompt", "output", "length", "finish_reason"} <= set(json.loads(lines[0]))
    # sweep models are temporary; the chosen model stays
    sweep = work / "models/sweep"
    assert not sweep.exists() or not list(sweep.glob("demo_alpha*"))
    assert (work / f"models/demo_alpha{chosen}/model.safetensors.index.json").exists()
    assert "AlpacaEval stage left out" in res.stderr

    # tables: none header-only; the empty ones say why; the measured lm-eval and reward figures are there
    tables = work / "tables"
    for name in ["alpaca_eval", "mt_bench", "open_llm", "open_llm_v2", "lmeval", "rewards_alpaca", "paper_pairs",
                 "reward_per_alpha", "provenance"]:  # fmt: skip
        rows = read_csv(tables / f"{name}.csv")
        assert rows, f"{name}.csv is header-only"
    notes = {
        name: read_csv(tables / f"{name}.csv")[0].get("note")
        for name in ["alpaca_eval", "mt_bench", "open_llm"]
    }
    assert notes == {
        "alpaca_eval": "AlpacaEval stage not run: alpaca_eval.enabled is false",
        "mt_bench": "MT-Bench stage not run: mt_bench.enabled is false",
        "open_llm": "Open LLM Leaderboard v1 not run: lmeval.suites.v1 is false in the config (the config runs: local)",
    }
    lm = {(r["model"], r["metric"]): float(r["value"]) for r in read_csv(tables / "lmeval.csv")}
    for model in models:
        result = json.loads((work / f"results_lmeval/{model}/expo_tiny_mc.json").read_text())
        assert lm[(model, "acc,none")] == result["results"]["expo_tiny_mc"]["acc,none"]
    rewards = {r["model"]: r for r in read_csv(tables / "rewards_alpaca.csv")}
    for model in models:
        values = [float(x) for x in (work / f"rewards_alpaca/{model}.jsonl").read_text().split()]
        assert float(rewards[model]["mean_reward"]) == pytest.approx(sum(values) / len(values), abs=1e-12)
    pairs = {r["metric"]: r for r in read_csv(tables / "paper_pairs.csv") if r["pair"] == "demo"}
    assert set(pairs) == {"uf_reward", "alpaca_reward"} and pairs["alpaca_reward"]["expo_model"] == models[1]


def test_dag_with_judges_schedules_the_judge_jobs(demo_run, tmp_path):
    """After the demo (selection done), configuring both judges adds exactly the judge stages' jobs."""
    work, _ = demo_run
    config = yaml.safe_load((work / "config/demo.yaml").read_text())
    config["alpaca_eval"] = {"base_url": "http://127.0.0.1:9/v1", "df_gamed": None}
    config["mt_bench"] = {"base_url": "http://127.0.0.1:9/v1", "max_new_tokens": 8}
    cfg = tmp_path / "judged.yaml"
    cfg.write_text(yaml.safe_dump(config))
    res = run_snakemake(["-n", "--configfile", str(cfg)], cwd=work, timeout=300)
    assert res.returncode == 0, res.stderr[-3000:]
    assert "stage left out" not in res.stdout + res.stderr
    results = work / config["results_root"]
    chosen = json.loads((results / "selection/demo.json").read_text())["chosen_alpha"]
    jobs = re.findall(r"^(?:local)?(?:rule|checkpoint) (\w+):\n(.*?)(?=^\S|\Z)", res.stdout, re.S | re.M)
    scheduled = sorted((rule, (re.search(r"wildcards: (.*)", body) or [None, ""])[1]) for rule, body in jobs)
    models = [f"pair=demo, alpha={a}" for a in ("0.0", chosen)]
    expected = [("alpaca_eval", m) for m in models] + [("mt_bench_answer", m) for m in models]
    expected += [("mt_bench_judge", m) for m in models]
    expected += [
        ("all", ""),
        ("fetch_alpaca_eval", "resource=alpaca_eval_gpt4_baseline.json"),
        ("fetch_mt_bench", ""),
        ("mt_bench_scores", ""),
        ("tables", ""),
    ]
    assert scheduled == sorted(expected)


def test_adding_a_pair_schedules_only_its_jobs(demo_run, tmp_path):
    work, _ = demo_run
    config = yaml.safe_load((work / "config/demo.yaml").read_text())
    config["pairs"]["demo2"] = dict(config["pairs"]["demo"], alpha_grid=[0.5, 1.5])
    cfg = tmp_path / "two_pairs.yaml"
    cfg.write_text(yaml.safe_dump(config))
    res = run_snakemake(["-n", "--configfile", str(cfg)], cwd=work, timeout=300)
    assert res.returncode == 0, res.stderr[-3000:]
    jobs = re.findall(r"^(?:local)?(?:rule|checkpoint) (\w+):\n(.*?)(?=^\S|\Z)", res.stdout, re.S | re.M)
    assert jobs, res.stdout[-3000:]
    scheduled = []
    for rule, body in jobs:
        wildcards = re.search(r"wildcards: (.*)", body)
        pair = re.search(r"pair=([^,\s]+)", wildcards.group(1)).group(1) if wildcards else None
        scheduled.append((rule, pair))
        assert rule in AGGREGATION_RULES or pair == "demo2", f"{rule} ({wildcards and wildcards.group(1)})"
    assert ("select_alpha", "demo2") in scheduled
    assert ("extrapolate_sweep", "demo2") in scheduled
