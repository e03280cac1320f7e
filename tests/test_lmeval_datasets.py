"""lm-eval datasets offline: the datasets each suite needs come from lm-eval's own task index, the fetch fills the
project cache and writes its manifest last, a gated dataset without a token stops the DAG build in one line.
No hub here: the download call is replaced by a real ``datasets`` load of local files into the same cache."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from expo.benchmarks.lmeval import datasets as lmdata
from expo.errors import ExpoError

ROOT = Path(__file__).resolve().parents[1]
V1 = {"allenai/ai2_arc", "Rowan/hellaswag", "cais/mmlu", "truthfulqa/truthful_qa", "allenai/winogrande",
      "openai/gsm8k"}  # fmt: skip


@pytest.fixture(scope="module")
def v1_v2():
    return lmdata.suite_datasets("v1"), lmdata.suite_datasets("v2")


def test_suites_datasets_from_lm_eval_task_index(v1_v2):
    v1, v2 = v1_v2
    assert {r.path for r in v1} == V1
    mmlu = {r.name for r in v1 if r.path == "cais/mmlu"}
    assert len(mmlu) == 57 and "abstract_algebra" in mmlu  # the group expanded to its subjects
    assert ("allenai/ai2_arc", "ARC-Challenge") in {(r.path, r.name) for r in v1}
    assert set(lmdata.GATED["v2"]) <= {r.path for r in v2}  # the gated list matches what lm-eval loads
    assert {"TIGER-Lab/MMLU-Pro", "SaylorTwift/bbh"} <= {r.path for r in v2}
    assert lmdata.suite_datasets("local") == []  # the packaged task needs nothing from the hub


def _local_loader(tmp_path, calls):
    """Stand-in for the hub call: loads a local JSON file with the real datasets library into the cache."""

    def load(ref, cache):
        import datasets

        src = tmp_path / f"{ref.path.replace('/', '_')}_{ref.name}.jsonl"
        src.write_text(json.dumps({"question": ref.label(), "answer": "a"}) + "\n")
        calls.append((ref.label(), cache))
        datasets.load_dataset("json", data_files=str(src), cache_dir=cache)

    return load


def test_fetch_fills_the_cache_then_writes_the_manifest(tmp_path, monkeypatch):
    calls = []
    monkeypatch.setattr(lmdata, "_load", _local_loader(tmp_path, calls))
    cache = tmp_path / "hf_datasets"
    refs = [lmdata.DatasetRef("allenai/ai2_arc", "ARC-Challenge"), lmdata.DatasetRef("openai/gsm8k", "main")]
    out = lmdata.run(lmdata.FetchRequest(suite="v1", cache=str(cache), datasets=refs))
    assert out == cache / "expo_v1.json"
    assert json.loads(out.read_text()) == {
        "suite": "v1",
        "datasets": ["allenai/ai2_arc/ARC-Challenge", "openai/gsm8k/main"],
    }
    assert calls == [("allenai/ai2_arc/ARC-Challenge", str(cache)), ("openai/gsm8k/main", str(cache))]
    assert list(cache.glob("json/*"))  # prepared Arrow data in the cache jobs read


def test_failed_download_is_one_line_and_leaves_no_manifest(tmp_path, monkeypatch):
    def fail(ref, cache):
        raise ConnectionError(f"Couldn't reach '{ref.path}' on the Hub (LocalEntryNotFoundError)\nmore")

    monkeypatch.setattr(lmdata, "_load", fail)
    cache = tmp_path / "c"
    with pytest.raises(
        ExpoError, match=r"^cannot fetch lm-eval dataset openai/gsm8k/main: Couldn't reach"
    ) as exc:
        lmdata.run(
            lmdata.FetchRequest(
                suite="v1", cache=str(cache), datasets=[lmdata.DatasetRef("openai/gsm8k", "main")]
            )
        )
    assert "\n" not in str(exc.value)
    assert not (cache / "expo_v1.json").exists()


def test_gated_dataset_without_token(tmp_path):
    no_token = {"HF_HOME": str(tmp_path / "hf_home")}
    with pytest.raises(ExpoError) as exc:
        lmdata.check_gated(["v1", "v2"], str(tmp_path / "cache"), environ=no_token)
    line = str(exc.value)
    assert (
        "Idavidrein/gpqa" in line
        and "https://huggingface.co/datasets/Idavidrein/gpqa" in line
        and "HF_TOKEN" in line
    )
    lmdata.check_gated(["v1", "v2"], str(tmp_path / "cache"), environ={"HF_TOKEN": "hf_x"})
    (tmp_path / "cache").mkdir()
    (tmp_path / "cache" / "expo_v2.json").write_text("{}")  # already fetched: no token needed
    lmdata.check_gated(["v2"], str(tmp_path / "cache"), environ=no_token)


def _dry_run(tmp_path, config):
    cfg = tmp_path / "cfg.yaml"
    cfg.write_text(yaml.safe_dump(config))
    env = {k: v for k, v in os.environ.items() if k != "HF_TOKEN"}
    env.update(HF_HUB_OFFLINE="1", HF_HOME=str(tmp_path / "hf_home"))
    return subprocess.run(
        [sys.executable, "-m", "snakemake", "-n", "-s", str(ROOT / "Snakefile"), "--configfile", str(cfg)],
        cwd=tmp_path, capture_output=True, text=True, timeout=300, env=env,
    )  # fmt: skip


def test_dag_build_stops_on_gated_dataset_without_token_and_fetches_v1_locally(tmp_path):
    config = yaml.safe_load((ROOT / "config" / "demo.yaml").read_text())
    config["lmeval"]["suites"] = {"v1": True, "v2": True, "local": False}
    config["alpha_selection"] = "published"
    res = _dry_run(tmp_path, config)
    assert res.returncode != 0
    lines = [line for line in res.stderr.splitlines() if "gpqa" in line]
    assert len(lines) == 1 and lines[0].startswith("lm-eval suite v2 needs the gated dataset Idavidrein/gpqa")
    config["lmeval"]["suites"]["v2"] = False
    res = _dry_run(tmp_path, config)
    assert res.returncode == 0, res.stderr[-3000:]
    assert re.search(r"^(local)?rule fetch_lmeval_data:$", res.stdout, re.M), res.stdout[-3000:]
    assert "output: resources/hf_datasets/expo_v1.json" in res.stdout
    assert "input: models/demo_alpha0.5, resources/hf_datasets/expo_v1.json" in res.stdout
