"""expo fetch-prompts from local files (the hub path is not reachable in tests): shapes, limits, errors."""

from __future__ import annotations

import json

from expo.cli import main
from expo.generation import prompts as prompt_sets


def test_alpaca_eval_from_shared_eval_set(shared_data, tmp_path, capsys):
    source = shared_data / "alpaca_eval" / "eval_set.json"
    out = tmp_path / "resources" / "prompts" / "alpaca_eval.json"
    assert main(["fetch-prompts", "--set", "alpaca_eval", "--out", str(out), "--source", str(source)]) == 0
    written = json.loads(out.read_text())
    expected = json.loads(source.read_text())
    assert len(written) == 805
    assert written == [{"instruction": r["instruction"], "dataset": r["dataset"]} for r in expected]


def test_ultrafeedback_from_local_json_list_with_limit(tmp_path, capsys):
    source = tmp_path / "src.json"
    source.write_text(json.dumps([{"instruction": "one"}, {"prompt": "two"}, "three", {"prompt": "four"}]))
    out = tmp_path / "uf.jsonl"
    rc = main(
        [
            "fetch-prompts",
            "--set",
            "ultrafeedback",
            "--out",
            str(out),
            "--source",
            str(source),
            "--limit",
            "3",
        ]
    )
    assert rc == 0
    assert [json.loads(line) for line in out.read_text().splitlines()] == [
        {"prompt": "one"},
        {"prompt": "two"},
        {"prompt": "three"},
    ]


def test_bad_local_source_names_file_and_line(tmp_path, capsys):
    source = tmp_path / "src.jsonl"
    source.write_text('{"prompt": "a"}\n\n{"prompt": 3}\n')
    out = tmp_path / "uf.jsonl"
    assert main(["fetch-prompts", "--set", "ultrafeedback", "--out", str(out), "--source", str(source)]) == 2
    err = capsys.readouterr().err
    assert f"{source}:3: prompt is empty or not a string" in err
    assert not out.exists()


def test_hub_ultrafeedback_takes_first_user_message(tmp_path, monkeypatch):
    """The hub path with huggingface_hub replaced by a local parquet file of the real schema."""
    import huggingface_hub
    import pyarrow as pa
    import pyarrow.parquet as pq

    parquet = tmp_path / "test_gen-00000-of-00001.parquet"
    messages = [
        [{"role": "user", "content": "first prompt"}, {"role": "assistant", "content": "x"}],
        [{"role": "system", "content": "sys"}, {"role": "user", "content": "second prompt"}],
    ]
    pq.write_table(pa.table({"prompt": ["a", "b"], "messages": messages}), parquet)

    class FakeApi:
        def list_repo_files(self, repo_id, repo_type=None):
            assert (repo_id, repo_type) == (prompt_sets.UF_REPO, "dataset")
            return ["README.md", "data/train_gen-00000-of-00001.parquet", f"data/{parquet.name}"]

    monkeypatch.setattr(huggingface_hub, "HfApi", FakeApi)
    monkeypatch.setattr(huggingface_hub, "hf_hub_download", lambda repo, name, repo_type=None: str(parquet))
    out = tmp_path / "uf.jsonl"
    assert prompt_sets.fetch_prompt_set("ultrafeedback", out, "hub", limit=None) == 2
    assert out.read_text() == '{"prompt": "first prompt"}\n{"prompt": "second prompt"}\n'
