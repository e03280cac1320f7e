"""Benchmark of ``expo extrapolate`` against the reference script (from_pretrained + loop) and mergekit ``linear``.

Builds a synthetic bf16 Llama pair (hidden 2048, vocab 32000, 3 shards; aligned = sft + small noise) with 8
layers (~1.1 GB each) and one twice as deep (16 layers), then runs each approach as a separate child process and
prints wall time, CPU time and peak RSS (``ru_maxrss`` of that child from ``os.wait4``) with the machine's load
average after each run, plus the ratios. The engine runs twice: as used (sha256 of every input and output weight
file) and without the hashes (``EXPO_EXTRAPOLATE_FINGERPRINTS=0``), to show their cost; both log the split of
their time (``EXPO_EXTRAPOLATE_TIMINGS=1``: start-up and imports, plan, and the busy seconds of the overlapping
read / input hash / compute / write / output hash / fsync work). Also checks that the engine's output is
bit-identical to the reference script's. mergekit (extra ``bench``) is run when ``mergekit-yaml`` is installed
beside this Python. The machine may be shared: compare runs by their load.

    python benchmarks/extrapolate.py [--workdir DIR] [--alpha 0.3] [--no-2x] [--no-mergekit] [--keep]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HIDDEN = 2048
INTERMEDIATE = 5632
VOCAB = 32000
HEADS = 16
SHARDS = 3
NOISE = 1e-3
BIN = Path(sys.executable).parent


def llama_tensor_shapes(layers: int) -> list[tuple[str, tuple[int, ...]]]:
    shapes = [("model.embed_tokens.weight", (VOCAB, HIDDEN))]
    for i in range(layers):
        p = f"model.layers.{i}."
        shapes += [
            (p + "input_layernorm.weight", (HIDDEN,)),
            (p + "self_attn.q_proj.weight", (HIDDEN, HIDDEN)),
            (p + "self_attn.k_proj.weight", (HIDDEN, HIDDEN)),
            (p + "self_attn.v_proj.weight", (HIDDEN, HIDDEN)),
            (p + "self_attn.o_proj.weight", (HIDDEN, HIDDEN)),
            (p + "post_attention_layernorm.weight", (HIDDEN,)),
            (p + "mlp.gate_proj.weight", (INTERMEDIATE, HIDDEN)),
            (p + "mlp.up_proj.weight", (INTERMEDIATE, HIDDEN)),
            (p + "mlp.down_proj.weight", (HIDDEN, INTERMEDIATE)),
        ]
    shapes += [("model.norm.weight", (HIDDEN,)), ("lm_head.weight", (VOCAB, HIDDEN))]
    return shapes


def build_pair(root: Path, layers: int, seed: int = 0) -> tuple[Path, Path]:
    """Write sft/ and aligned/ (config.json + 3 safetensors shards + index) under ``root``; reuse if present."""
    import torch
    from safetensors.torch import save_file
    from transformers import LlamaConfig

    sft, aligned = root / "sft", root / "aligned"
    config = LlamaConfig(
        architectures=["LlamaForCausalLM"],
        hidden_size=HIDDEN,
        intermediate_size=INTERMEDIATE,
        num_hidden_layers=layers,
        num_attention_heads=HEADS,
        num_key_value_heads=HEADS,
        vocab_size=VOCAB,
        tie_word_embeddings=False,
        dtype="bfloat16",
    )
    for d in (sft, aligned):
        d.mkdir(parents=True, exist_ok=True)
        config.save_pretrained(d)
    if (aligned / "model.safetensors.index.json").is_file() and (
        sft / "model.safetensors.index.json"
    ).is_file():
        return sft, aligned
    shapes = llama_tensor_shapes(layers)
    total = sum(2 * math.prod(shape) for _, shape in shapes)
    budget = total // SHARDS + 1
    groups: list[list[tuple[str, tuple[int, ...]]]] = [[]]
    size = 0
    for name, shape in shapes:
        nbytes = 2 * math.prod(shape)
        if groups[-1] and size + nbytes > budget and len(groups) < SHARDS:
            groups.append([])
            size = 0
        groups[-1].append((name, shape))
        size += nbytes
    gen = torch.Generator().manual_seed(seed)
    maps: dict[str, dict[str, str]] = {"sft": {}, "aligned": {}}
    for i, group in enumerate(groups):
        fname = f"model-{i + 1:05d}-of-{len(groups):05d}.safetensors"
        t_sft, t_al = {}, {}
        for name, shape in group:
            base = torch.randn(shape, generator=gen) * 0.02
            if name.endswith("norm.weight"):
                base += 1.0
            t_sft[name] = base.to(torch.bfloat16)
            t_al[name] = (base + NOISE * torch.randn(shape, generator=gen)).to(torch.bfloat16)
            del base
        save_file(t_sft, sft / fname, metadata={"format": "pt"})
        save_file(t_al, aligned / fname, metadata={"format": "pt"})
        for name, _ in group:
            maps["sft"][name] = maps["aligned"][name] = fname
        del t_sft, t_al
    for d in (sft, aligned):
        index = {"metadata": {"total_size": total}, "weight_map": maps[d.name]}
        (d / "model.safetensors.index.json").write_text(json.dumps(index, indent=2))
    return sft, aligned


def run_reference(sft: str, aligned: str, alpha: float, out: str) -> None:
    """The authors' approach: from_pretrained both in bf16, loop over named_parameters, save_pretrained."""
    import torch
    from transformers import AutoModelForCausalLM

    model_sft = AutoModelForCausalLM.from_pretrained(sft, dtype=torch.bfloat16)
    model = AutoModelForCausalLM.from_pretrained(aligned, dtype=torch.bfloat16)
    sft_params = dict(model_sft.named_parameters())
    with torch.no_grad():
        for name, p_al in model.named_parameters():
            p_al.data = p_al.data + alpha * (p_al.data - sft_params[name].data)
    model.save_pretrained(out)


def mergekit_config(sft: Path, aligned: Path, alpha: float) -> str:
    return (
        "merge_method: linear\n"
        f"base_model: {aligned}\n"
        "models:\n"
        f"  - model: {aligned}\n"
        f"    parameters: {{weight: {1 + alpha!r}}}\n"
        f"  - model: {sft}\n"
        f"    parameters: {{weight: {-alpha!r}}}\n"
        "parameters:\n  normalize: false\n"
        "dtype: bfloat16\nout_dtype: bfloat16\n"
    )


def measure(cmd: list[str], env: dict[str, str]) -> tuple[float, float, float, str]:
    """Run ``cmd`` as a child; return (wall seconds, CPU seconds, peak RSS in GB, stderr) of that child."""
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    err = proc.stderr.read().decode(errors="replace")
    proc.stderr.close()
    if proc.returncode != 0:
        raise SystemExit(f"command failed ({proc.returncode}): {' '.join(cmd)}\n{err[-3000:]}")
    return wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss * 1024 / 1e9, err


def engine_split(stderr: str) -> str:
    """The engine's ``timings {json}`` log line as one readable line."""
    found = [
        line.split("timings ", 1)[1]
        for line in stderr.splitlines()
        if "expo.extrapolate.engine: timings " in line
    ]
    if not found:
        return "no timings line"
    t = json.loads(found[-1])
    return (
        f"start-up+imports {t['startup_and_imports']:.2f} s, plan {t['plan']:.2f} s, stream {t['stream_wall']:.2f} s "
        f"wall [busy, overlapping: read {t['read']:.2f}, hash in {t['hash_inputs']:.2f}, compute "
        f"{t['compute_seconds']:.2f}, write {t['write']:.2f}, hash out {t['hash_outputs']:.2f}, write-back calls "
        f"{t['writeback_calls']:.2f}, fsync {t['fsync_thread']:.2f}], final fsync wait {t['final_fsync_wait']:.2f} s, "
        f"hash catch-up {t['hash_catch_up']:.2f} s; CPU: compute thread {t['compute_cpu_seconds']:.2f} s, reader "
        f"thread {t['reader_cpu_seconds']:.2f} s, whole call {t['cpu_in_function']:.2f} s"
    )


def compare_outputs(a: Path, b: Path) -> tuple[int, int]:
    """(tensors, tensors not bit-identical) between two output dirs, read lazily."""
    from safetensors import safe_open

    def locate(d: Path) -> dict[str, Path]:
        index = d / "model.safetensors.index.json"
        if index.is_file():
            return {k: d / v for k, v in json.loads(index.read_text())["weight_map"].items()}
        found: dict[str, Path] = {}
        for f in d.glob("*.safetensors"):
            with safe_open(f, framework="pt") as fh:
                found.update({k: f for k in fh.keys()})  # noqa: SIM118
        return found

    la, lb = locate(a), locate(b)
    diff = 0
    for name, fa in la.items():
        with safe_open(fa, framework="pt") as ha, safe_open(lb[name], framework="pt") as hb:
            ta, tb = ha.get_tensor(name), hb.get_tensor(name)
            diff += int(not (ta.dtype == tb.dtype and ta.shape == tb.shape and bool((ta == tb).all())))
    return len(la), diff


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--workdir", type=Path, default=None, help="where to build the models (default: a temp dir)"
    )
    parser.add_argument("--alpha", type=float, default=0.3)
    parser.add_argument("--no-2x", action="store_true", help="skip the 16-layer pair")
    parser.add_argument("--no-mergekit", action="store_true")
    parser.add_argument("--keep", action="store_true", help="keep the built models")
    # helpers run as child processes, so this parent stays small (a child's ru_maxrss counts the parent's pages
    # at fork time)
    parser.add_argument(
        "--_reference", nargs=4, metavar=("SFT", "ALIGNED", "ALPHA", "OUT"), help=argparse.SUPPRESS
    )
    parser.add_argument("--_build", nargs=2, metavar=("DIR", "LAYERS"), help=argparse.SUPPRESS)
    parser.add_argument("--_compare", nargs=2, metavar=("A", "B"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args._reference:
        sft, aligned, alpha, out = args._reference
        run_reference(sft, aligned, float(alpha), out)
        return
    if args._build:
        build_pair(Path(args._build[0]), int(args._build[1]))
        return
    if args._compare:
        print(*compare_outputs(Path(args._compare[0]), Path(args._compare[1])))
        return

    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "TQDM_DISABLE": "1"}
    env["EXPO_EXTRAPOLATE_TIMINGS"] = "1"
    env.pop("EXPO_EXTRAPOLATE_FINGERPRINTS", None)
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="expo-bench-"))
    workdir.mkdir(parents=True, exist_ok=True)
    have_mergekit = not args.no_mergekit and shutil.which("mergekit-yaml", path=str(BIN)) is not None
    print(f"load average at start (1/5/15 min): {os.getloadavg()}  cpus: {os.cpu_count()}")
    if not have_mergekit:
        print(
            "mergekit: not run ("
            + ("--no-mergekit" if args.no_mergekit else "mergekit-yaml not installed")
            + ")"
        )

    sizes = [("1x", 8)] + ([] if args.no_2x else [("2x", 16)])
    results: dict[tuple[str, str], tuple[float, float, float]] = {}
    for label, layers in sizes:
        t0 = time.perf_counter()
        pair_dir = workdir / f"pair_{label}"
        subprocess.run(
            [sys.executable, __file__, "--_build", str(pair_dir), str(layers)], env=env, check=True
        )
        sft, aligned = pair_dir / "sft", pair_dir / "aligned"
        model_gb = sum(p.stat().st_size for p in aligned.glob("*.safetensors")) / 1e9
        print(
            f"[{label}] pair: {layers} layers, {model_gb:.2f} GB each (built in {time.perf_counter() - t0:.0f} s)"
        )
        engine_cmd = [
            str(BIN / "expo"),
            "extrapolate",
            "--sft",
            str(sft),
            "--aligned",
            str(aligned),
            "--alpha",
            repr(args.alpha),
            "--out",
            "{out}",
            "--no-progress",
        ]
        runs = {
            "expo extrapolate": engine_cmd,
            "expo extrapolate, no hashes": engine_cmd,
            "reference (from_pretrained loop)": [sys.executable, __file__, "--_reference", str(sft), str(aligned),
                                                 repr(args.alpha), "{out}"],
        }  # fmt: skip
        if have_mergekit:
            cfg = workdir / f"mergekit_{label}.yml"
            cfg.write_text(mergekit_config(sft, aligned, args.alpha))
            runs["mergekit linear"] = [str(BIN / "mergekit-yaml"), str(cfg), "{out}"]
        outs = {}
        for name, cmd in runs.items():
            out = workdir / f"out_{label}_{name.split()[0]}{'_nohash' if 'no hashes' in name else ''}"
            shutil.rmtree(out, ignore_errors=True)
            run_env = {**env, "EXPO_EXTRAPOLATE_FINGERPRINTS": "0"} if "no hashes" in name else env
            wall, cpu, rss, err = measure([c.replace("{out}", str(out)) for c in cmd], run_env)
            results[(label, name)] = (wall, cpu, rss)
            outs[name] = out
            load = os.getloadavg()[0]
            print(
                f"[{label}] {name:34s} {wall:7.1f} s wall {cpu:7.1f} s CPU {rss:6.2f} GB  (load {load:.2f})",
                flush=True,
            )
            if name.startswith("expo"):
                print(f"[{label}]     split: {engine_split(err)}", flush=True)
        cmp = [sys.executable, __file__, "--_compare", str(outs["expo extrapolate"])]
        cmp.append(str(outs["reference (from_pretrained loop)"]))
        n, diff = subprocess.run(cmp, env=env, check=True, capture_output=True, text=True).stdout.split()
        print(f"[{label}] engine vs reference output: {n} tensors, {diff} not bit-identical")
        for out in outs.values():
            shutil.rmtree(out, ignore_errors=True)
        if not args.keep:
            shutil.rmtree(workdir / f"pair_{label}", ignore_errors=True)

    print()
    print(f"{'pair':4s}  {'approach':34s} {'wall s':>8s} {'CPU s':>8s} {'peak RSS GB':>12s}")
    for (label, name), (wall, cpu, rss) in results.items():
        print(f"{label:4s}  {name:34s} {wall:8.1f} {cpu:8.1f} {rss:12.2f}")
    print()
    for label, _ in sizes:
        eng = results[(label, "expo extrapolate")]
        ref = results[(label, "reference (from_pretrained loop)")]
        line = f"[{label}] engine speedup (wall / CPU) vs reference: {ref[0] / eng[0]:.2f}x / {ref[1] / eng[1]:.2f}x"
        if (label, "mergekit linear") in results:
            mk = results[(label, "mergekit linear")]
            line += f"; vs mergekit: {mk[0] / eng[0]:.2f}x / {mk[1] / eng[1]:.2f}x"
        print(line)
        bare = results[(label, "expo extrapolate, no hashes")]
        print(
            f"[{label}] cost of the sha256 fingerprints: {eng[0] - bare[0]:+.2f} s wall "
            f"({100 * (eng[0] / bare[0] - 1):+.0f}%), {eng[1] - bare[1]:+.2f} s CPU"
        )
    if ("2x", "expo extrapolate") in results:
        for name in dict.fromkeys(n for _, n in results):
            r1, r2 = results[("1x", name)][2], results[("2x", name)][2]
            print(f"RSS 2x pair / 1x pair, {name}: {r2 / r1:.2f}")
    print(f"load average at end (1/5/15 min): {os.getloadavg()}")
    if args.workdir is None and not args.keep:
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
