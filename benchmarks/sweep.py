"""The α sweep of one pair two ways on this CPU: per-α jobs (extrapolate + a fresh vLLM engine per α) vs
``expo sweep`` (one engine, weights swapped in place), plus a GPU-hour model of the paper config's sweep.

    python benchmarks/sweep.py [--vllm-python PY] [--workdir DIR] [--grid 0.25 0.5 1.0 2.0] [--no-write-measure]

Both sides run as the DAG runs them: per-α = ``expo extrapolate`` (this Python, like the core env) for every α
of the grid, then ``expo generate --backend vllm`` (the vLLM Python) on the aligned model (α = 0) and on every
extrapolated checkpoint; in-engine = one ``expo sweep``, run once before and once after the per-α jobs (the
ratio uses their mean wall time: the load of this shared machine drifts). Each command is a child process; the script prints its
wall time, the engine starts it made (counted from the logs: lines ``vllm: engine ready in``), bytes written (files
left by the step, including the per-α checkpoints the DAG deletes later), checks both sides wrote the same
texts, and prints ``os.getloadavg()`` (the machine is shared). ``--no-write-measure`` skips measuring the
checkpoint-write and θ(α) rates on a 1.1 GB bf16 pair (benchmarks/extrapolate.py's), which the GPU model uses.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "code"))

# GPU assumptions for the model (state them; change with flags). A vLLM 0.33 start on a GPU node:
# interpreter + vLLM import + engine core/worker spawn + torch.compile (cached) + CUDA-graph capture, then the
# weights read from the node's disk.
GPU_START_FIXED_S = 60.0
DISK_READ_GBPS = 2.0  # node-local NVMe / page cache when reading a checkpoint (GB/s)
H2D_GBPS = 10.0  # host -> GPU copy of swapped weights (pinned-less, GB/s)
BYTES_PER_PARAM = 2  # bf16
RM_LOAD_FIXED_S = 20.0  # reward job: interpreter + torch/transformers import + CUDA context, then its weights


def loadavg() -> str:
    return "load {:.2f} {:.2f} {:.2f}".format(*os.getloadavg())


def run_step(cmd: list[str], env: dict, log: Path) -> float:
    start = time.perf_counter()
    with open(log, "w") as fh:
        proc = subprocess.run(cmd, env=env, stdout=fh, stderr=subprocess.STDOUT)
    wall = time.perf_counter() - start
    if proc.returncode != 0:
        sys.exit(f"step failed (rc {proc.returncode}): {' '.join(cmd)}; see {log}")
    return wall


def engine_starts(log: Path) -> int:
    return sum("vllm: engine ready in " in line for line in log.read_text(errors="replace").splitlines())


def logged_start_s(log: Path) -> float:
    """The engine start time ``expo sweep`` logs (``sweep: engine started in X s``)."""
    for line in log.read_text(errors="replace").splitlines():
        if "sweep: engine started in " in line:
            return float(line.split("engine started in ")[1].split()[0])
    raise SystemExit(f"no engine start logged in {log}")


def tree_bytes(path: Path) -> int:
    if path.is_file():
        return path.stat().st_size
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def measure_rates(workdir: Path) -> dict:
    """Checkpoint write (expo extrapolate, whole process) and in-process θ(α) rates on a 1.1 GB bf16 pair."""
    sys.path.insert(0, str(REPO / "benchmarks"))
    from expo.sweep.weights import iter_theta
    from extrapolate import build_pair

    sft, aligned = build_pair(workdir / "gb_pair", 8)
    nbytes = sum(p.stat().st_size for p in aligned.glob("*.safetensors"))
    out = workdir / "gb_out"
    shutil.rmtree(out, ignore_errors=True)
    wall = run_step(
        [str(Path(sys.executable).parent / "expo"), "extrapolate", "--sft", str(sft), "--aligned", str(aligned),
         "--alpha", "0.5", "--out", str(out), "--no-progress"],
        os.environ.copy(), workdir / "gb_extrapolate.log",
    )  # fmt: skip
    shutil.rmtree(out, ignore_errors=True)
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # one thread, as vLLM serves (its pool spins and slows down a busy machine)
    start = time.perf_counter()
    for _name, _tensor in iter_theta(sft, aligned, 0.5):
        pass
    theta_s = time.perf_counter() - start
    torch.set_num_threads(threads)
    return {"pair_gb": nbytes / 1e9, "write_s": wall, "theta_s": theta_s}


def gpu_model(config_path: Path, rates: dict, cpu_start_s: float, args) -> None:
    import yaml

    from expo.cluster.resources import CPUS_PER_GPU

    config = yaml.safe_load(config_path.read_text())

    write_gbps = rates["pair_gb"] / rates["write_s"] if rates else args.write_gbps
    theta_1 = rates["pair_gb"] / rates["theta_s"] if rates else args.theta_gbps
    print()
    print(f"GPU-hour model of the sweep of {config_path} (generation itself is the same both ways):")
    print(
        f"  measured here: engine start {cpu_start_s:.0f} s on this CPU (tiny model: the fixed cost); "
        f"checkpoint write {write_gbps:.2f} GB/s (expo extrapolate, whole process); "
        f"θ(α) computed in memory {theta_1:.3f} GB/s of output on one thread ({loadavg()})"
    )
    print(
        f"  assumed on GPU nodes: engine start = {args.gpu_start_s:.0f} s fixed + weights read at "
        f"{DISK_READ_GBPS} GB/s; swap = read sft+aligned at {DISK_READ_GBPS} GB/s + θ(α) on the host (each worker "
        f"computes every full tensor; vLLM's loader takes its shard) + "
        f"H2D at {H2D_GBPS} GB/s; reward-model load = {RM_LOAD_FIXED_S:.0f} s + its weights "
        f"(cluster.reward_size_b) read at {DISK_READ_GBPS} GB/s, once per (pair, α) per-α vs once per pair in-engine; "
        f"per-α jobs write each checkpoint at the measured rate (a CPU job the GPU job waits for: counted as wall "
        f"time, not GPU-hours); bf16 weights ({BYTES_PER_PARAM} bytes/parameter); GPUs per job from expo.cluster"
    )
    for label, theta_gbps in (
        ("θ(α) at the measured 1-thread rate", theta_1),
        (f"θ(α) on the {CPUS_PER_GPU} CPUs per GPU of a job (assumed {CPUS_PER_GPU}x the 1-thread rate)",
         theta_1 * CPUS_PER_GPU),
    ):  # fmt: skip
        print(f"  -- {label}:")
        _overhead(config, theta_gbps, write_gbps, args)


def _overhead(config: dict, theta_gbps: float, write_gbps: float, args) -> None:
    from expo.cluster.resources import gpus_for, size_b_for
    from expo.workflow_config import sweep_alphas

    tot = {"per_alpha_gpu_h": 0.0, "in_engine_gpu_h": 0.0, "per_alpha_wall_h": 0.0, "in_engine_wall_h": 0.0}
    n_alpha_total = 0
    starts = {"per_alpha": 0, "in_engine": 0}
    rm_gb = size_b_for(config, None, "reward") * BYTES_PER_PARAM
    rm_gpus = gpus_for(config, None, model="reward")
    rm_load = RM_LOAD_FIXED_S + rm_gb / DISK_READ_GBPS
    for pair, entry in config["pairs"].items():
        n = len(sweep_alphas(config, pair))
        n_alpha_total += n
        gb = float(entry["size_b"]) * BYTES_PER_PARAM
        gpus = gpus_for(config, pair)
        start = args.gpu_start_s + gb / DISK_READ_GBPS
        swap = 2 * gb / DISK_READ_GBPS + gb / theta_gbps + gb / H2D_GBPS
        write = gb / write_gbps
        per_alpha = (n + 1) * start  # alpha 0 + every alpha: a fresh engine each
        in_engine = start + n * swap
        tot["per_alpha_gpu_h"] += (per_alpha * gpus + (n + 1) * rm_load * rm_gpus) / 3600
        tot["in_engine_gpu_h"] += (in_engine * gpus + rm_load * rm_gpus) / 3600
        tot["per_alpha_wall_h"] += (per_alpha + n * write + (n + 1) * rm_load) / 3600
        tot["in_engine_wall_h"] += (in_engine + rm_load) / 3600
        starts["per_alpha"] += n + 1
        starts["in_engine"] += 1
    print(
        f"  {len(config['pairs'])} pairs, {n_alpha_total} swept alphas (+ alpha 0 each): engine starts "
        f"{starts['per_alpha']} per-α vs {starts['in_engine']} in-engine; reward-model loads {starts['per_alpha']} vs "
        f"{starts['in_engine']}"
    )
    print(
        f"  sweep overhead (engine starts, swaps, reward-model loads) GPU-hours: per-α {tot['per_alpha_gpu_h']:.2f} vs in-engine "
        f"{tot['in_engine_gpu_h']:.2f} ({tot['per_alpha_gpu_h'] / tot['in_engine_gpu_h']:.1f}x); "
        f"overhead wall hours incl. checkpoint writes, jobs in sequence: per-α {tot['per_alpha_wall_h']:.2f} vs "
        f"in-engine {tot['in_engine_wall_h']:.2f}; checkpoints written: per-α "
        f"{sum(len(sweep_alphas(config, p)) * float(e['size_b']) * BYTES_PER_PARAM for p, e in config['pairs'].items()):.0f} GB"
        " vs in-engine 0 GB"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--vllm-python", default=os.environ.get("EXPO_VLLM_PYTHON", "/work/vllm-venv/bin/python")
    )
    parser.add_argument("--workdir", help="where the pair, checkpoints and outputs go (default: a temp dir)")
    parser.add_argument("--grid", nargs="+", default=["0.25", "0.5", "1.0", "2.0"], help="the demo grid")
    parser.add_argument("--max-new-tokens", type=int, default=24)
    parser.add_argument("--no-write-measure", action="store_true")
    parser.add_argument("--only-in-engine", action="store_true", help="run only the in-engine sweep (once)")
    parser.add_argument(
        "--model-only",
        action="store_true",
        help="only the rates and the GPU model (engine start from --workdir's log)",
    )
    parser.add_argument("--write-gbps", type=float, default=0.5, help="with --no-write-measure")
    parser.add_argument("--theta-gbps", type=float, default=0.5, help="with --no-write-measure")
    parser.add_argument("--gpu-start-s", type=float, default=GPU_START_FIXED_S)
    parser.add_argument("--config", default=str(REPO / "config" / "config.yaml"))
    args = parser.parse_args()

    from tests.helpers.tiny_pair import build_tiny_pair

    work = Path(args.workdir or tempfile.mkdtemp(prefix="expo-sweep-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    pair = build_tiny_pair(work / "pair")
    env = {**os.environ, "PYTHONPATH": str(REPO / "code"), "VLLM_CPU_KVCACHE_SPACE": os.environ.get(
        "VLLM_CPU_KVCACHE_SPACE", "1")}  # fmt: skip
    expo_here = [sys.executable, "-m", "expo"]
    expo_vllm = [args.vllm_python, "-m", "expo"]
    common = ["--prompts", str(pair["prompts"]), "--max-new-tokens", str(args.max_new_tokens)]
    print(f"pair: tiny bf16 Llama (2 heads x 32), {tree_bytes(pair['aligned'] / 'model.safetensors')} bytes of "
          f"weights; grid {args.grid} + alpha 0; {sum(1 for _ in open(pair['prompts']))} prompts, "
          f"{args.max_new_tokens} new tokens; workdir {work}")  # fmt: skip

    def in_engine(run: int) -> tuple[float, int, int, Path]:
        ie = work / f"in_engine_{run}"
        shutil.rmtree(ie, ignore_errors=True)
        ie.mkdir()
        print(f"[in-engine #{run}] start ({loadavg()})", flush=True)
        wall = run_step(
            expo_vllm + ["sweep", "--sft", str(pair["sft"]), "--aligned", str(pair["aligned"]), "--pair", "tiny",
                         "--alphas", *args.grid, "--out-dir", str(ie / "outputs"), *common],
            env, ie / "sweep.log",
        )  # fmt: skip
        starts, nbytes = engine_starts(ie / "sweep.log"), tree_bytes(ie / "outputs")
        print(
            f"[in-engine #{run}] wall {wall:.1f} s (engine start {logged_start_s(ie / 'sweep.log'):.1f} s), "
            f"engine starts {starts}, bytes written {nbytes} ({loadavg()})",
            flush=True,
        )
        return wall, starts, nbytes, ie

    if args.model_only:
        logs = sorted(work.glob("in_engine*/sweep.log"))
        if not logs:
            sys.exit(f"--model-only needs an in-engine sweep log under {work}")
        gpu_model(
            Path(args.config),
            {} if args.no_write_measure else measure_rates(work),
            logged_start_s(logs[0]),
            args,
        )
        return

    # in-engine sweep, run before and after the per-alpha jobs (the load of this shared machine drifts)
    ie_runs = [in_engine(1)]
    if args.only_in_engine:
        return
    # per-alpha jobs
    pa = work / "per_alpha"
    shutil.rmtree(pa, ignore_errors=True)
    (pa / "models").mkdir(parents=True)
    print(f"[per-α] start ({loadavg()})", flush=True)
    pa_wall = 0.0
    pa_starts = 0
    extrapolate_s = 0.0
    models = {"0.0": pair["aligned"]}
    for alpha in args.grid:
        out = pa / "models" / f"tiny_alpha{alpha}"
        wall = run_step(
            expo_here + ["extrapolate", "--sft", str(pair["sft"]), "--aligned", str(pair["aligned"]),
                         "--alpha", alpha, "--out", str(out), "--no-progress"],
            env, pa / f"extrapolate_{alpha}.log",
        )  # fmt: skip
        extrapolate_s += wall
        models[alpha] = out
    generate_s = []
    for alpha, model in models.items():
        log = pa / f"generate_{alpha}.log"
        wall = run_step(
            expo_vllm + ["generate", "--model", str(model), "--out", str(pa / "outputs" / f"tiny_alpha{alpha}.jsonl"),
                         "--generator", f"tiny_alpha{alpha}", "--backend", "vllm", *common],
            env, log,
        )  # fmt: skip
        generate_s.append(wall)
        pa_starts += engine_starts(log)
        print(f"[per-α] alpha {alpha}: generate {wall:.1f} s ({loadavg()})", flush=True)
    pa_wall = extrapolate_s + sum(generate_s)
    pa_bytes = tree_bytes(pa / "models") + tree_bytes(pa / "outputs")
    print(
        f"[per-α] wall {pa_wall:.1f} s (extrapolate {extrapolate_s:.1f} s for {len(args.grid)} checkpoints, "
        f"generate {sum(generate_s):.1f} s), engine starts {pa_starts}, bytes written {pa_bytes} "
        f"(checkpoints {tree_bytes(pa / 'models')}) ({loadavg()})"
    )

    ie_runs.append(in_engine(2))
    ie_wall = sum(r[0] for r in ie_runs) / len(ie_runs)
    ie_starts, ie_bytes, ie = ie_runs[0][1], ie_runs[0][2], ie_runs[0][3]
    same = all(
        (r[3] / "outputs" / f"tiny_alpha{a}.jsonl").read_text()
        == (pa / "outputs" / f"tiny_alpha{a}.jsonl").read_text()
        for r in ie_runs
        for a in models
    ) and all(
        (ie / "outputs" / f"tiny_alpha{a}.jsonl").read_text()
        == (pa / "outputs" / f"tiny_alpha{a}.jsonl").read_text()
        for a in models
    )
    distinct = len({(ie / "outputs" / f"tiny_alpha{a}.jsonl").read_text() for a in models})
    print(
        f"same outputs both ways for every alpha: {same} ({distinct} distinct outputs files over {len(models)} alphas)"
    )
    print(
        f"RESULT: engine starts {pa_starts} -> {ie_starts} (one per pair); sweep wall {pa_wall:.1f} s -> "
        f"{ie_wall:.1f} s (mean of {len(ie_runs)} runs) = {pa_wall / ie_wall:.2f}x shorter; bytes written {pa_bytes} -> "
        f"{ie_bytes}"
    )
    rates = {} if args.no_write_measure else measure_rates(work)
    gpu_model(Path(args.config), rates, logged_start_s(ie / "sweep.log"), args)
    if not args.workdir:
        shutil.rmtree(work, ignore_errors=True)
    if not same:
        sys.exit("the two ways wrote different texts")


if __name__ == "__main__":
    main()
