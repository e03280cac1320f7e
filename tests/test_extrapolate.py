"""Tests of the streaming extrapolation engine on tiny synthetic safetensors checkpoints."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
import torch
from safetensors import safe_open
from safetensors.torch import save_file

from expo.cli import main as cli_main
from expo.errors import ExpoError
from expo.extrapolate import engine, extrapolate

ALPHA = 0.3


def make_tensors(dtype: torch.dtype, seed: int = 0) -> tuple[dict, dict]:
    """An (sft, aligned) pair of tensor dicts, aligned = sft + small noise, including a non-float buffer."""
    gen = torch.Generator().manual_seed(seed)
    shapes = {
        "model.embed_tokens.weight": (50, 16),
        "model.layers.0.self_attn.q_proj.weight": (16, 16),
        "model.layers.0.mlp.up_proj.weight": (40, 16),
        "model.layers.0.input_layernorm.weight": (16,),
        "model.norm.weight": (16,),
        "lm_head.weight": (50, 16),
    }
    sft, aligned = {}, {}
    for name, shape in shapes.items():
        base = torch.randn(shape, generator=gen, dtype=torch.float64)
        sft[name] = base.to(dtype)
        aligned[name] = (base + 0.05 * torch.randn(shape, generator=gen, dtype=torch.float64)).to(dtype)
    sft["model.position_ids"] = aligned["model.position_ids"] = torch.arange(12, dtype=torch.int64)
    return sft, aligned


def write_checkpoint(directory: Path, tensors: dict, shards: int = 1, config: dict | None = None) -> Path:
    """Write ``tensors`` as one model.safetensors or ``shards`` shards plus an index; write config.json."""
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "config.json").write_text(json.dumps(config or {"tie_word_embeddings": False}))
    names = list(tensors)
    if shards == 1:
        save_file(tensors, directory / "model.safetensors", metadata={"format": "pt"})
        return directory
    weight_map = {}
    for i in range(shards):
        part = names[i::shards]
        fname = f"model-{i + 1:05d}-of-{shards:05d}.safetensors"
        save_file({n: tensors[n] for n in part}, directory / fname, metadata={"format": "pt"})
        weight_map.update(dict.fromkeys(part, fname))
    (directory / "model.safetensors.index.json").write_text(
        json.dumps({"metadata": {}, "weight_map": weight_map})
    )
    return directory


def load_output(directory: Path) -> dict[str, torch.Tensor]:
    index = json.loads((directory / "model.safetensors.index.json").read_text())
    out = {}
    for name, fname in index["weight_map"].items():
        with safe_open(directory / fname, framework="pt") as fh:
            out[name] = fh.get_tensor(name)
    return out


def reference(sft: dict, aligned: dict, alpha: float) -> dict:
    """The authors' op order on whole tensors."""
    return {n: (a + alpha * (a - sft[n]) if a.is_floating_point() else a) for n, a in aligned.items()}


def assert_no_output(out: Path) -> None:
    assert not out.exists()
    assert not list(out.parent.glob(f".{out.name}.*")), "a temp dir was left behind"


@pytest.fixture
def small_chunks(monkeypatch):
    """Force several chunks per tensor so the chunked path is what is tested."""
    monkeypatch.setattr(engine, "CHUNK_ELEMS", 96)


@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float16, torch.float32])
@pytest.mark.parametrize("layout", [(1, 1), (3, 3), (1, 3), (2, 4)])
def test_reference_is_bit_exact(tmp_path, small_chunks, dtype, layout):
    sft_t, al_t = make_tensors(dtype)
    sft = write_checkpoint(tmp_path / "sft", sft_t, shards=layout[0])
    aligned = write_checkpoint(tmp_path / "aligned", al_t, shards=layout[1])
    out = extrapolate(sft, aligned, ALPHA, tmp_path / "out", progress=False)
    got = load_output(out)
    want = reference(sft_t, al_t, ALPHA)
    assert set(got) == set(want)
    for name, tensor in want.items():
        assert got[name].dtype == tensor.dtype and got[name].shape == tensor.shape, name
        assert torch.equal(got[name], tensor), name
    # the result really moved away from the aligned weights
    assert not torch.equal(got["model.norm.weight"], al_t["model.norm.weight"])


def test_sft_in_another_dtype_is_cast_to_aligned_dtype(tmp_path, small_chunks):
    sft_t, al_t = make_tensors(torch.bfloat16)
    sft_f32 = {n: (t.float() if t.is_floating_point() else t) for n, t in sft_t.items()}
    sft = write_checkpoint(tmp_path / "sft", sft_f32)
    aligned = write_checkpoint(tmp_path / "aligned", al_t)
    got = load_output(extrapolate(sft, aligned, ALPHA, tmp_path / "out", progress=False))
    for name, tensor in reference(sft_t, al_t, ALPHA).items():
        assert torch.equal(got[name], tensor), name


def _ordered_bits(t: torch.Tensor) -> torch.Tensor:
    """Integers that are consecutive for consecutive floats of t's dtype (so a difference counts ulps)."""
    bits = t.view(torch.int16 if t.element_size() == 2 else torch.int32).to(torch.int64)
    sign_mask = 1 << (8 * t.element_size() - 1)
    return torch.where(bits < 0, -(bits + sign_mask), bits)


@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float16])
def test_fp32_mode_within_one_ulp_of_exact(tmp_path, small_chunks, dtype):
    sft_t, al_t = make_tensors(dtype, seed=1)
    sft = write_checkpoint(tmp_path / "sft", sft_t)
    aligned = write_checkpoint(tmp_path / "aligned", al_t, shards=2)
    alpha = 2.5
    got = load_output(extrapolate(sft, aligned, alpha, tmp_path / "out", precision="fp32", progress=False))
    for name, a in al_t.items():
        if not a.is_floating_point():
            assert torch.equal(got[name], a)
            continue
        a64, s64 = a.double(), sft_t[name].double()
        exact = (a64 + alpha * (a64 - s64)).to(dtype)
        ulps = (_ordered_bits(got[name]) - _ordered_bits(exact)).abs()
        assert int(ulps.max()) <= 1, name


def test_alpha_zero_is_aligned(tmp_path):
    sft_t, al_t = make_tensors(torch.bfloat16)
    sft = write_checkpoint(tmp_path / "sft", sft_t, shards=2)
    aligned = write_checkpoint(tmp_path / "aligned", al_t)
    got = load_output(extrapolate(sft, aligned, 0.0, tmp_path / "out", progress=False))
    for name, tensor in al_t.items():
        assert torch.equal(got[name], tensor), name


def test_shards_respect_shard_size_and_files_are_valid(tmp_path):
    sft_t, al_t = make_tensors(torch.float32)
    sft = write_checkpoint(tmp_path / "sft", sft_t)
    aligned = write_checkpoint(tmp_path / "aligned", al_t)
    limit_mb = 4000 / 2**20  # 4000 bytes: the 3200-byte tensors get shards of their own
    out = extrapolate(sft, aligned, ALPHA, tmp_path / "out", shard_size_mb=limit_mb, progress=False)
    index = json.loads((out / "model.safetensors.index.json").read_text())
    files = sorted(set(index["weight_map"].values()))
    assert len(files) >= 3
    assert index["metadata"]["total_size"] == sum(t.numel() * t.element_size() for t in al_t.values())
    for fname in files:
        names = [n for n, f in index["weight_map"].items() if f == fname]
        data = sum(al_t[n].numel() * al_t[n].element_size() for n in names)
        assert data <= 4000 or len(names) == 1
        with safe_open(out / fname, framework="pt") as fh:
            assert sorted(fh.keys()) == sorted(names)
            assert fh.metadata() == {"format": "pt"}


def test_copies_non_weight_files_and_writes_provenance(tmp_path):
    sft_t, al_t = make_tensors(torch.bfloat16)
    sft = write_checkpoint(tmp_path / "sft", sft_t)
    aligned = write_checkpoint(tmp_path / "aligned", al_t, shards=2)
    extra = {
        "generation_config.json": "{}",
        "tokenizer.json": "{}",
        "tokenizer_config.json": "{}",
        "chat_template.jinja": "{{ messages }}",
        "modeling_custom.py": "# remote code\n",
        "pytorch_model.bin": "not copied",
        "training_args.pt": "not copied",
        "model.safetensors.index.json.bak": "copied (not an index)",
    }
    for name, text in extra.items():
        (aligned / name).write_text(text)
    out = extrapolate(sft, aligned, ALPHA, tmp_path / "out", progress=False)
    for name, text in extra.items():
        if name.endswith((".bin", ".pt")):
            assert not (out / name).exists(), name
        else:
            assert (out / name).read_text() == text, name
    assert json.loads((out / "config.json").read_text()) == {"tie_word_embeddings": False}
    assert not (out / engine.OWNER_FILE).exists()
    prov = json.loads((out / "expo_provenance.json").read_text())
    assert prov["alpha"] == ALPHA and prov["precision"] == "reference"
    assert prov["expo_version"]
    assert prov["aligned"]["path"] == str(aligned.resolve()) and prov["sft"]["path"] == str(sft.resolve())
    index_bytes = (aligned / "model.safetensors.index.json").read_bytes()
    assert prov["aligned"]["sha256"] == hashlib.sha256(index_bytes).hexdigest()
    raw = (sft / "model.safetensors").read_bytes()
    header = raw[: 8 + int.from_bytes(raw[:8], "little")]
    assert prov["sft"]["sha256"] == hashlib.sha256(header).hexdigest()
    assert prov["created_utc"]


def test_tied_embeddings_absent_lm_head(tmp_path, small_chunks):
    sft_t, al_t = make_tensors(torch.bfloat16)
    tied = {"tie_word_embeddings": True}
    # sft stores no lm_head (tied); aligned stores an aliased copy of the embedding (tied too): computed once.
    sft_no_head = {n: t for n, t in sft_t.items() if n != "lm_head.weight"}
    al_t["lm_head.weight"] = al_t["model.embed_tokens.weight"].clone()
    sft = write_checkpoint(tmp_path / "sft", sft_no_head, config=tied)
    aligned = write_checkpoint(tmp_path / "aligned", al_t, config=tied)
    got = load_output(extrapolate(sft, aligned, ALPHA, tmp_path / "out", progress=False))
    assert "lm_head.weight" not in got
    want = reference(sft_no_head, {n: t for n, t in al_t.items() if n != "lm_head.weight"}, ALPHA)
    for name, tensor in want.items():
        assert torch.equal(got[name], tensor), name


def test_untied_aligned_head_against_tied_sft_uses_sft_embedding(tmp_path):
    sft_t, al_t = make_tensors(torch.float16)
    sft_no_head = {n: t for n, t in sft_t.items() if n != "lm_head.weight"}
    sft = write_checkpoint(tmp_path / "sft", sft_no_head, config={"tie_word_embeddings": True})
    aligned = write_checkpoint(tmp_path / "aligned", al_t)
    got = load_output(extrapolate(sft, aligned, ALPHA, tmp_path / "out", progress=False))
    head = al_t["lm_head.weight"]
    assert torch.equal(got["lm_head.weight"], head + ALPHA * (head - sft_t["model.embed_tokens.weight"]))


def test_absent_lm_head_without_tying_is_an_error(tmp_path):
    sft_t, al_t = make_tensors(torch.bfloat16)
    sft = write_checkpoint(tmp_path / "sft", {n: t for n, t in sft_t.items() if n != "lm_head.weight"})
    aligned = write_checkpoint(tmp_path / "aligned", al_t)
    with pytest.raises(ExpoError, match=r"lm_head\.weight is in the aligned model .* not in the sft model"):
        extrapolate(sft, aligned, ALPHA, tmp_path / "out", progress=False)
    assert_no_output(tmp_path / "out")


def test_non_float_tensors_copied_when_equal(tmp_path):
    sft_t, al_t = make_tensors(torch.bfloat16)
    sft_t["mask"] = al_t["mask"] = torch.tensor([True, False, True])
    sft = write_checkpoint(tmp_path / "sft", sft_t)
    aligned = write_checkpoint(tmp_path / "aligned", al_t)
    got = load_output(extrapolate(sft, aligned, 1.5, tmp_path / "out", progress=False))
    assert torch.equal(got["model.position_ids"], al_t["model.position_ids"])
    assert torch.equal(got["mask"], al_t["mask"])


# ---- errors: each one line naming the culprit, and no output left behind ----


def _pair(tmp_path, mutate_sft=None, mutate_aligned=None, dtype=torch.bfloat16):
    sft_t, al_t = make_tensors(dtype)
    if mutate_sft:
        mutate_sft(sft_t)
    if mutate_aligned:
        mutate_aligned(al_t)
    return write_checkpoint(tmp_path / "sft", sft_t), write_checkpoint(tmp_path / "aligned", al_t, shards=2)


def _expect_error(tmp_path, sft, aligned, pattern, alpha=ALPHA, **kwargs):
    out = tmp_path / "out"
    with pytest.raises(ExpoError, match=pattern) as info:
        extrapolate(sft, aligned, alpha, out, progress=False, **kwargs)
    assert "\n" not in str(info.value)
    assert_no_output(out)


def test_error_missing_dir(tmp_path):
    sft, aligned = _pair(tmp_path)
    _expect_error(tmp_path, tmp_path / "nope", aligned, r"sft model directory .*nope does not exist")
    _expect_error(tmp_path, sft, sft / "config.json", r"aligned model path .*config.json is not a directory")


def test_error_no_safetensors_and_pickle_needs_flag(tmp_path):
    sft_t, al_t = make_tensors(torch.float32)
    sft, aligned = tmp_path / "sft", tmp_path / "aligned"
    write_checkpoint(aligned, al_t)
    sft.mkdir()
    _expect_error(tmp_path, sft, aligned, r"sft model directory .*sft has no safetensors")
    torch.save(sft_t, sft / "pytorch_model.bin")
    _expect_error(
        tmp_path, sft, aligned, r"sft .* only pickle weights \(pytorch_model.bin\); pass --allow-pickle"
    )
    got = load_output(extrapolate(sft, aligned, ALPHA, tmp_path / "out", allow_pickle=True, progress=False))
    for name, tensor in reference(sft_t, al_t, ALPHA).items():
        assert torch.equal(got[name], tensor), name


def test_error_tensor_names_differ(tmp_path):
    sft, aligned = _pair(tmp_path, mutate_aligned=lambda t: t.update(extra=torch.zeros(3)))
    _expect_error(tmp_path, sft, aligned, r"tensor extra is in the aligned model .* not in the sft model")


def test_error_tensor_only_in_sft(tmp_path):
    sft, aligned = _pair(tmp_path, mutate_sft=lambda t: t.update(extra=torch.zeros(3)))
    _expect_error(tmp_path, sft, aligned, r"tensor extra is in the sft model .* not in the aligned model")


def test_error_shape_mismatch(tmp_path):
    def grow(t):
        t["model.layers.0.mlp.up_proj.weight"] = torch.zeros(40, 17, dtype=torch.bfloat16)

    sft, aligned = _pair(tmp_path, mutate_sft=grow)
    _expect_error(tmp_path, sft, aligned, r"shape mismatch in tensor model\.layers\.0\.mlp\.up_proj\.weight")


def test_error_vocab_size_mismatch_names_both_sizes(tmp_path):
    def resize(t):
        t["model.embed_tokens.weight"] = torch.zeros(52, 16, dtype=torch.bfloat16)

    sft, aligned = _pair(tmp_path, mutate_aligned=resize)
    _expect_error(
        tmp_path,
        sft,
        aligned,
        r"vocab size mismatch in model\.embed_tokens\.weight: sft has 50 rows, aligned has 52",
    )


def test_error_integer_where_float_expected(tmp_path):
    def to_int(t):
        t["model.norm.weight"] = torch.ones(16, dtype=torch.int32)

    sft, aligned = _pair(tmp_path, mutate_sft=to_int)
    _expect_error(tmp_path, sft, aligned, r"tensor model\.norm\.weight is I32 in sft but BF16 in aligned")


def test_error_non_float_tensors_differ(tmp_path):
    sft, aligned = _pair(
        tmp_path, mutate_aligned=lambda t: t.update({"model.position_ids": torch.arange(1, 13)})
    )
    _expect_error(
        tmp_path, sft, aligned, r"tensor model\.position_ids is I64 .* differs between sft and aligned"
    )


def test_error_nan_in_result(tmp_path):
    def poison(t):
        t["model.layers.0.mlp.up_proj.weight"][3, 4] = float("inf")

    sft, aligned = _pair(tmp_path, mutate_aligned=poison)
    _expect_error(tmp_path, sft, aligned, r"tensor model\.layers\.0\.mlp\.up_proj\.weight: .* NaN or Inf")


def test_error_corrupt_header(tmp_path):
    sft, aligned = _pair(tmp_path)
    shard = aligned / "model-00001-of-00002.safetensors"
    raw = bytearray(shard.read_bytes())
    raw[8:20] = b"\xff" * 12
    shard.write_bytes(bytes(raw))
    _expect_error(tmp_path, sft, aligned, r"corrupt safetensors file .*model-00001-of-00002\.safetensors")


def test_error_truncated_shard(tmp_path):
    sft, aligned = _pair(tmp_path)
    shard = aligned / "model-00002-of-00002.safetensors"
    shard.write_bytes(shard.read_bytes()[:-10])
    _expect_error(tmp_path, sft, aligned, r"truncated safetensors file .*model-00002-of-00002\.safetensors")
    (sft / "model.safetensors").write_bytes(b"\x05")
    _expect_error(tmp_path, sft, aligned, r"corrupt safetensors file .*sft/model\.safetensors")


def test_error_index_lists_missing_shard(tmp_path):
    sft, aligned = _pair(tmp_path)
    (aligned / "model-00002-of-00002.safetensors").unlink()
    _expect_error(
        tmp_path, sft, aligned, r"index .* lists model-00002-of-00002\.safetensors, which does not exist"
    )


def test_error_alpha_not_a_number(tmp_path):
    sft, aligned = _pair(tmp_path)
    _expect_error(tmp_path, sft, aligned, r"alpha 'abc' is not a number", alpha="abc")
    _expect_error(tmp_path, sft, aligned, r"alpha 'nan' is not a finite number", alpha="nan")


def test_error_output_exists_unless_force(tmp_path):
    sft, aligned = _pair(tmp_path)
    out = tmp_path / "out"
    out.mkdir()
    (out / "old.txt").write_text("old")
    with pytest.raises(ExpoError, match=r"output .*out already exists \(use --force"):
        extrapolate(sft, aligned, ALPHA, out, progress=False)
    assert (out / "old.txt").exists()
    extrapolate(sft, aligned, ALPHA, out, force=True, progress=False)
    assert not (out / "old.txt").exists() and (out / "model.safetensors.index.json").exists()
    with pytest.raises(ExpoError, match="overlaps the input model directory"):
        extrapolate(sft, aligned, ALPHA, aligned, force=True, progress=False)


def test_error_disk_too_small(tmp_path, monkeypatch):
    import shutil

    import expo.io.atomic

    sft, aligned = _pair(tmp_path)
    usage = shutil.disk_usage(tmp_path)
    monkeypatch.setattr(expo.io.atomic.shutil, "disk_usage", lambda _: usage._replace(free=1000))
    _expect_error(tmp_path, sft, aligned, r"not enough disk space for output in .*need")


def test_cli_prints_one_line_error(tmp_path, capsys):
    sft, aligned = _pair(tmp_path)
    rc = cli_main(
        [
            "extrapolate",
            "--sft",
            str(sft),
            "--aligned",
            str(aligned),
            "--alpha",
            "x",
            "--out",
            str(tmp_path / "o"),
        ]
    )
    err = capsys.readouterr().err.strip()
    assert rc == 2
    assert err == "expo extrapolate: error: alpha 'x' is not a number"
    assert_no_output(tmp_path / "o")


def test_cli_success(tmp_path):
    sft_t, al_t = make_tensors(torch.bfloat16)
    sft = write_checkpoint(tmp_path / "sft", sft_t)
    aligned = write_checkpoint(tmp_path / "aligned", al_t)
    args = [
        "extrapolate",
        "--sft",
        str(sft),
        "--aligned",
        str(aligned),
        "--alpha",
        "0.5",
        "--out",
        str(tmp_path / "o"),
    ]
    assert cli_main([*args, "--precision", "reference", "--shard-size-mb", "0.001", "--no-progress"]) == 0
    got = load_output(tmp_path / "o")
    for name, tensor in reference(sft_t, al_t, 0.5).items():
        assert torch.equal(got[name], tensor), name


def test_write_failure_is_an_error_and_leaves_no_output(tmp_path, monkeypatch, small_chunks):
    from expo.extrapolate import writer

    calls = []
    real_write = writer.ShardedSafetensorsWriter.write

    def failing_write(self, data):
        calls.append(len(data))
        if len(calls) == 3:
            raise OSError(28, "No space left on device")
        return real_write(self, data)

    monkeypatch.setattr(writer.ShardedSafetensorsWriter, "write", failing_write)
    sft, aligned = _pair(tmp_path)
    _expect_error(tmp_path, sft, aligned, r"writing the output .*out failed: .*No space left on device")


# ---- content fingerprints in expo_provenance.json ----


def _sha256_file(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _assert_files_hashed(entry: dict, directory: Path) -> None:
    assert entry["files"], entry
    on_disk = {p.name for p in directory.glob("*.safetensors")} | {p.name for p in directory.glob("*.bin")}
    assert set(entry["files"]) == on_disk
    for name, info in entry["files"].items():
        assert info["sha256"] == _sha256_file(directory / name), name
        assert info["bytes"] == (directory / name).stat().st_size, name


@pytest.mark.parametrize("layout", [(1, 1), (3, 3), (2, 4)])
def test_provenance_hashes_every_input_and_output_weight_file(tmp_path, small_chunks, layout):
    sft_t, al_t = make_tensors(torch.bfloat16)
    sft = write_checkpoint(tmp_path / "sft", sft_t, shards=layout[0])
    aligned = write_checkpoint(tmp_path / "aligned", al_t, shards=layout[1])
    limit_mb = 2000 / 2**20  # several output shards
    out = extrapolate(sft, aligned, ALPHA, tmp_path / "out", shard_size_mb=limit_mb, progress=False)
    prov = json.loads((out / "expo_provenance.json").read_text())
    assert prov["content_hash"] == "sha256"
    _assert_files_hashed(prov["sft"], sft)
    _assert_files_hashed(prov["aligned"], aligned)
    _assert_files_hashed(prov["output"], out)
    assert len(prov["output"]["files"]) == prov["shards"] > 1


def test_equal_shapes_different_weights_get_different_fingerprints(tmp_path):
    sft_t, al_t = make_tensors(torch.bfloat16)
    _, other_t = make_tensors(torch.bfloat16, seed=7)  # same names, shapes and dtypes; other values
    sft = write_checkpoint(tmp_path / "sft", sft_t, shards=2)
    aligned = write_checkpoint(tmp_path / "aligned", al_t, shards=2)
    other = write_checkpoint(tmp_path / "other", other_t, shards=2)
    prov_a = json.loads(
        (
            extrapolate(sft, aligned, ALPHA, tmp_path / "a", progress=False) / "expo_provenance.json"
        ).read_text()
    )
    prov_b = json.loads(
        (extrapolate(sft, other, ALPHA, tmp_path / "b", progress=False) / "expo_provenance.json").read_text()
    )
    # the structure fingerprint (index file) cannot tell them apart; the content fingerprints do
    assert prov_a["aligned"]["sha256"] == prov_b["aligned"]["sha256"]
    assert prov_a["aligned"]["weights_sha256"] != prov_b["aligned"]["weights_sha256"]
    for name in prov_a["aligned"]["files"]:
        assert prov_a["aligned"]["files"][name]["sha256"] != prov_b["aligned"]["files"][name]["sha256"]
    assert prov_a["output"]["weights_sha256"] != prov_b["output"]["weights_sha256"]
    assert prov_a["sft"]["weights_sha256"] == prov_b["sft"]["weights_sha256"]  # the same sft


def test_fingerprints_of_skipped_tensors_and_pickles_cover_whole_files(tmp_path):
    sft_t, al_t = make_tensors(torch.float32)
    tied = {"tie_word_embeddings": True}
    al_t["lm_head.weight"] = al_t["model.embed_tokens.weight"].clone()  # an alias: never read by the stream
    aligned = write_checkpoint(tmp_path / "aligned", al_t, config=tied)
    sft = tmp_path / "sft"
    sft.mkdir()
    (sft / "config.json").write_text(json.dumps(tied))
    torch.save({n: t for n, t in sft_t.items() if n != "lm_head.weight"}, sft / "pytorch_model.bin")
    out = extrapolate(sft, aligned, ALPHA, tmp_path / "out", allow_pickle=True, progress=False)
    prov = json.loads((out / "expo_provenance.json").read_text())
    _assert_files_hashed(prov["aligned"], aligned)
    _assert_files_hashed(prov["sft"], sft)
    _assert_files_hashed(prov["output"], out)


def test_fingerprints_can_be_skipped_for_benchmarks(tmp_path, monkeypatch):
    monkeypatch.setenv(engine.FINGERPRINTS_ENV, "0")
    sft, aligned = _pair(tmp_path)
    prov = json.loads(
        (
            extrapolate(sft, aligned, ALPHA, tmp_path / "out", progress=False) / "expo_provenance.json"
        ).read_text()
    )
    assert prov["content_hash"] is None
    assert prov["aligned"]["files"] is None and prov["output"]["weights_sha256"] is None
    assert prov["aligned"]["sha256"]  # the structure fingerprint is still there


def test_timings_are_logged_when_asked(tmp_path, monkeypatch, caplog):
    monkeypatch.setenv(engine.TIMINGS_ENV, "1")
    sft_t, al_t = make_tensors(torch.bfloat16)
    sft = write_checkpoint(tmp_path / "sft", sft_t, shards=3)
    aligned = write_checkpoint(tmp_path / "aligned", al_t, shards=3)
    with caplog.at_level("INFO", logger="expo.extrapolate.engine"):
        extrapolate(sft, aligned, ALPHA, tmp_path / "out", progress=False)
    lines = [r.getMessage() for r in caplog.records if r.getMessage().startswith("timings ")]
    assert len(lines) == 1
    timings = json.loads(lines[0].removeprefix("timings "))
    for key in ("startup_and_imports", "read", "hash_inputs", "compute_seconds", "write", "hash_outputs",
                "final_fsync_wait", "in_function"):  # fmt: skip
        assert key in timings, key
    assert timings["in_function"] >= timings["stream_wall"] > 0
    # the same shard layout on both sides: every input byte was hashed as it streamed by, none read twice
    assert timings["hash_catch_up_bytes"] == 0


def test_reader_fills_torch_buffers_too(tmp_path):
    """Callers holding torch buffers (the in-engine sweep) get a typed torch view, as before the numpy engine."""
    from expo.extrapolate.checkpoint import TensorReader, open_checkpoint

    sft_t, _ = make_tensors(torch.bfloat16)
    ckpt = open_checkpoint(write_checkpoint(tmp_path / "sft", sft_t), "sft")
    info = ckpt.tensors["model.layers.0.mlp.up_proj.weight"]
    with TensorReader() as reader:
        got = reader.read(info, 0, info.numel, torch.empty(info.nbytes, dtype=torch.uint8))
    assert got.dtype == torch.bfloat16
    assert torch.equal(got.view(info.shape), sft_t["model.layers.0.mlp.up_proj.weight"])


def test_provenance_still_reads_in_the_tables(tmp_path):
    from expo.tables.provenance import provenance_view
    from expo.tables.published import Published

    sft, aligned = _pair(tmp_path)
    extrapolate(sft, aligned, ALPHA, tmp_path / "root" / "models" / "p1_alpha0.3", progress=False)
    (row,) = provenance_view(tmp_path / "root", {("p1", "0.3"): {"p1_alpha0.3"}}, Published(), {}, {}, {})
    assert row["precision"] == "reference"
    assert row["sources"] == "models/p1_alpha0.3/expo_provenance.json"
    assert "expo=" in row["versions"]


def test_early_write_back_keeps_the_output_exact(tmp_path, monkeypatch, small_chunks):
    from expo.extrapolate import writer

    calls = []
    real = writer._start_writeback
    monkeypatch.setattr(writer, "WRITEBACK_BYTES", 500)
    monkeypatch.setattr(writer, "_start_writeback", lambda *a: (calls.append(a[1]), real(*a)))
    sft_t, al_t = make_tensors(torch.float32)
    sft = write_checkpoint(tmp_path / "sft", sft_t)
    aligned = write_checkpoint(tmp_path / "aligned", al_t, shards=2)
    got = load_output(extrapolate(sft, aligned, ALPHA, tmp_path / "out", progress=False))
    assert len(calls) > 3 and calls == sorted(calls)
    for name, tensor in reference(sft_t, al_t, ALPHA).items():
        assert torch.equal(got[name], tensor), name
