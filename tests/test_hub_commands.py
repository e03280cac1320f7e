"""`expo download-model` and `expo fetch-alpaca-eval` with the hub calls answered from local files: what lands
in the output, the file filters, the checks, and one-line errors that leave nothing behind."""

from __future__ import annotations

import fnmatch
import json
import shutil
from pathlib import Path

import pytest

from expo.cli import main


def run_err(argv, capsys) -> str:
    assert main(argv) == 2
    err = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    assert len(err) == 1, err
    return err[0]


@pytest.fixture
def hub_repo(demo_dir, tmp_path):
    """A local 'hub repository': the demo aligned model plus files download-model must not fetch."""
    repo = tmp_path / "hub" / "org--model"
    shutil.copytree(demo_dir / "aligned", repo)
    (repo / "pytorch_model.bin").write_bytes(b"pickle, never fetched")
    (repo / "README.md").write_text("card")
    (repo / "images").mkdir()
    (repo / "images" / "logo.png").write_bytes(b"png")
    return repo


@pytest.fixture
def fake_snapshot(monkeypatch, hub_repo):
    """huggingface_hub.snapshot_download copying from ``hub_repo`` with the hub's allow_patterns matching."""
    import huggingface_hub

    calls = []

    def snapshot_download(repo_id, revision=None, local_dir=None, allow_patterns=None, **kwargs):
        calls.append({"repo_id": repo_id, "revision": revision, "allow_patterns": list(allow_patterns or [])})
        for src in hub_repo.rglob("*"):
            rel = src.relative_to(hub_repo).as_posix()
            if src.is_file() and any(fnmatch.fnmatch(rel, p) for p in allow_patterns or ["*"]):
                dst = Path(local_dir) / rel
                dst.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(src, dst)
        (Path(local_dir) / ".cache" / "huggingface").mkdir(parents=True)  # what the hub client leaves behind
        return str(local_dir)

    monkeypatch.setattr(huggingface_hub, "snapshot_download", snapshot_download)
    return calls


def test_download_model_fetches_a_loadable_safetensors_model(fake_snapshot, hub_repo, tmp_path, capsys):
    out = tmp_path / "resources" / "models" / "org--model"
    assert main(["download-model", "--repo-id", "org/model", "--revision", "abc123", "--out", str(out)]) == 0
    assert fake_snapshot == [
        {"repo_id": "org/model", "revision": "abc123", "allow_patterns": fake_snapshot[0]["allow_patterns"]}
    ]
    got = {p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file()}
    want = {p.relative_to(hub_repo).as_posix() for p in hub_repo.iterdir() if p.is_file()}
    assert got == want - {"pytorch_model.bin", "README.md"}
    assert not (out / ".cache").exists()
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(out)
    capsys.readouterr()  # transformers' loading progress
    assert (
        model.config.to_dict()["hidden_size"]
        == json.loads((hub_repo / "config.json").read_text())["hidden_size"]
    )

    # an existing folder is kept unless --force; --force replaces it whole
    (out / "stale.txt").write_text("old")
    msg = run_err(["download-model", "--repo-id", "org/model", "--out", str(out)], capsys)
    assert msg == f"expo download-model: error: output {out} already exists (use --force to replace it)"
    assert main(["download-model", "--repo-id", "org/model", "--out", str(out), "--force"]) == 0
    assert not (out / "stale.txt").exists() and (out / "config.json").is_file()


def test_download_model_without_safetensors_leaves_nothing(fake_snapshot, hub_repo, tmp_path, capsys):
    for weights in hub_repo.glob("*.safetensors*"):
        weights.unlink()
    out = tmp_path / "m"
    msg = run_err(["download-model", "--repo-id", "org/model", "--out", str(out)], capsys)
    assert msg == (
        "expo download-model: error: org/model@main has no *.safetensors weights (pickle .bin is not fetched)"
    )
    assert list(tmp_path.glob("m*")) == [] and list(tmp_path.glob(".m*")) == []


def test_download_model_hub_error_is_one_line(monkeypatch, tmp_path, capsys):
    import huggingface_hub
    from huggingface_hub.errors import LocalEntryNotFoundError

    def offline(**kwargs):
        raise LocalEntryNotFoundError(
            "Cannot find the requested files in the cache and outgoing traffic is off."
        )

    monkeypatch.setattr(huggingface_hub, "snapshot_download", offline)
    msg = run_err(["download-model", "--repo-id", "org/model", "--out", str(tmp_path / "m")], capsys)
    assert msg == (
        "expo download-model: error: cannot download org/model@main: "
        "Cannot find the requested files in the cache and outgoing traffic is off."
    )
    assert list(tmp_path.iterdir()) == []


@pytest.fixture
def fake_hf_file(monkeypatch):
    """huggingface_hub.hf_hub_download answered from ``files[filename]``; records the calls."""
    import huggingface_hub

    files: dict[str, Path] = {}
    calls = []

    def hf_hub_download(repo_id, filename, repo_type=None, **kwargs):
        calls.append((repo_id, filename, repo_type))
        if filename not in files:
            raise FileNotFoundError(f"404 Client Error: {filename} not found in {repo_id}")
        return str(files[filename])

    monkeypatch.setattr(huggingface_hub, "hf_hub_download", hf_hub_download)
    return files, calls


def test_fetch_alpaca_eval_reference(shared_data, fake_hf_file, tmp_path, capsys):
    files, calls = fake_hf_file
    reference = shared_data / "alpaca_eval" / "reference_outputs_gpt4_1106_preview.json"
    files["alpaca_eval_gpt4_baseline.json"] = reference
    out = tmp_path / "resources" / "alpaca_eval" / "alpaca_eval_gpt4_baseline.json"
    assert main(["fetch-alpaca-eval", "--what", "reference", "--out", str(out)]) == 0
    assert calls == [("tatsu-lab/alpaca_eval", "alpaca_eval_gpt4_baseline.json", "dataset")]
    assert out.read_bytes() == reference.read_bytes()

    # a reference with a repeated instruction is rejected before anything is written
    records = json.loads(reference.read_text())
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(records[:3] + records[:1]))
    files["alpaca_eval_gpt4_baseline.json"] = bad
    out2 = tmp_path / "ref2.json"
    msg = run_err(["fetch-alpaca-eval", "--what", "reference", "--out", str(out2)], capsys)
    assert msg.startswith(
        f"expo fetch-alpaca-eval: error: reference {bad}: instruction at index 3 repeats index 0"
    )
    assert not out2.exists()


def test_fetch_alpaca_eval_df_gamed_and_errors(fake_hf_file, tmp_path, capsys):
    files, _ = fake_hf_file
    out = tmp_path / "df_gamed.csv"
    msg = run_err(["fetch-alpaca-eval", "--what", "df_gamed", "--out", str(out)], capsys)
    assert msg == (
        "expo fetch-alpaca-eval: error: cannot download df_gamed.csv from hub dataset tatsu-lab/alpaca_eval: "
        "FileNotFoundError: 404 Client Error: df_gamed.csv not found in tatsu-lab/alpaca_eval"
    )
    assert not out.exists()
    gamed = tmp_path / "hub_df_gamed.csv"
    gamed.write_text(
        "model,index,instruction_difficulty,preference,std_delta_len,not_gamed_baseline\nm,0,0.1,0.5,1.0,False\n"
    )
    files["df_gamed.csv"] = gamed
    assert main(["fetch-alpaca-eval", "--what", "df_gamed", "--out", str(out)]) == 0
    assert out.read_bytes() == gamed.read_bytes()
    gamed.write_text("model,index\nm,0\n")  # lacks the GLM's columns
    msg = run_err(["fetch-alpaca-eval", "--what", "df_gamed", "--out", str(tmp_path / "x.csv")], capsys)
    assert "lacks columns" in msg and "instruction_difficulty" in msg
    assert not (tmp_path / "x.csv").exists()
