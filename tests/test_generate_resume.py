"""Resumable generation: a killed run leaves a progress sidecar; the rerun skips finished prompts, never duplicates."""

from __future__ import annotations

import json

import pytest

from expo.cli import main
from expo.generation import transformers_backend
from expo.generation.outputs import sidecar_path


def _args(demo_dir, prompts, out, batch_size=4):
    return ["generate", "--model", str(demo_dir / "aligned"), "--prompts", str(prompts), "--out", str(out),
            "--backend", "transformers", "--max-new-tokens", "6", "--batch-size", str(batch_size)]  # fmt: skip


@pytest.fixture
def prompts(tmp_path):
    path = tmp_path / "p.jsonl"
    path.write_text(
        "".join(json.dumps({"prompt": f"Tell me about tea number {i}."}) + "\n" for i in range(10))
    )
    return path


def test_resume_after_kill_gives_the_uninterrupted_result(demo_dir, prompts, tmp_path, capsys, monkeypatch):
    reference = tmp_path / "ref.jsonl"
    assert main(_args(demo_dir, prompts, reference)) == 0, capsys.readouterr().err

    out = tmp_path / "o.jsonl"
    real_generate = transformers_backend.TransformersGenerator.generate
    seen: list[int] = []

    def killed_at_batch_2(self, batch_ids, batch_index):
        seen.append(batch_index)
        if batch_index == 2:
            raise KeyboardInterrupt
        return real_generate(self, batch_ids, batch_index)

    monkeypatch.setattr(transformers_backend.TransformersGenerator, "generate", killed_at_batch_2)
    assert main(_args(demo_dir, prompts, out)) == 130
    assert not out.exists()
    sidecar = sidecar_path(out)
    lines = sidecar.read_text().splitlines()
    assert len(lines) == 1 + 8  # header + batches 0 and 1
    # The kill landed mid-write: keep prompts 0..6 and half of prompt 7's line.
    sidecar.write_text("\n".join(lines[:8]) + "\n" + lines[8][: len(lines[8]) // 2])

    seen.clear()
    monkeypatch.setattr(
        transformers_backend.TransformersGenerator,
        "generate",
        lambda self, ids, b: (seen.append(b), real_generate(self, ids, b))[1],
    )
    assert main(_args(demo_dir, prompts, out)) == 0, capsys.readouterr().err
    assert seen == [1, 2], "batch 0 was complete and must be skipped; batch 1 lost prompt 7"
    assert out.read_text() == reference.read_text()
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert [r["prompt"] for r in rows] == [f"Tell me about tea number {i}." for i in range(10)]
    assert not sidecar.exists()


def test_finished_sidecar_needs_no_model(demo_dir, prompts, tmp_path, capsys, monkeypatch):
    out = tmp_path / "o.jsonl"
    real_generate = transformers_backend.TransformersGenerator.generate

    def fail_on_last(self, ids, b):
        if b == 2:
            raise RuntimeError("boom")
        return real_generate(self, ids, b)

    monkeypatch.setattr(transformers_backend.TransformersGenerator, "generate", fail_on_last)
    with pytest.raises(RuntimeError):
        main(_args(demo_dir, prompts, out))
    lines = sidecar_path(out).read_text().splitlines()
    # duplicate a record (as an older writer might have): the rerun keeps one copy
    sidecar_path(out).write_text("\n".join(lines + [lines[1]]) + "\n")
    monkeypatch.setattr(transformers_backend.TransformersGenerator, "generate", real_generate)
    assert main(_args(demo_dir, prompts, out)) == 0
    assert len(out.read_text().splitlines()) == 10


def test_sidecar_of_another_run_is_discarded(demo_dir, prompts, tmp_path, capsys, caplog):
    caplog.set_level("INFO")
    out = tmp_path / "o.jsonl"
    reference = tmp_path / "ref.jsonl"
    assert main(_args(demo_dir, prompts, reference)) == 0
    stale = {"index": 0, "output": "stale", "length": 1, "finish_reason": "stop"}
    sidecar_path(out).write_text(json.dumps({"header": {"model": "other"}}) + "\n" + json.dumps(stale) + "\n")
    assert main(_args(demo_dir, prompts, out)) == 0, capsys.readouterr().err
    assert "different run" in caplog.text and str(sidecar_path(out)) in caplog.text
    assert out.read_text() == reference.read_text()
    assert not sidecar_path(out).exists()


def test_malformed_sidecar_line_is_an_error(demo_dir, prompts, tmp_path, capsys, monkeypatch):
    out = tmp_path / "o.jsonl"
    real_generate = transformers_backend.TransformersGenerator.generate

    def killed_at_batch_1(self, ids, b):
        if b == 1:
            raise KeyboardInterrupt
        return real_generate(self, ids, b)

    monkeypatch.setattr(transformers_backend.TransformersGenerator, "generate", killed_at_batch_1)
    assert main(_args(demo_dir, prompts, out)) == 130
    lines = sidecar_path(out).read_text().splitlines()
    sidecar_path(out).write_text("\n".join([lines[0], lines[1], "{broken", *lines[2:]]) + "\n")
    capsys.readouterr()
    assert main(_args(demo_dir, prompts, out)) == 2
    err = capsys.readouterr().err
    assert f"{sidecar_path(out)}:3: malformed progress line" in err
    assert not out.exists()
