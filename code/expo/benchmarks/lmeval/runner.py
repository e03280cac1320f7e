"""Run lm-evaluation-harness 0.4.13 (its ``lm_eval`` CLI, as a subprocess) for one model and one suite.

Layout under ``--out`` (``results_lmeval/<model>/``):

* ``raw/<invocation>/`` — lm-eval's own output (``<sanitized model>/results_<datetime>.json`` and, with
  ``--log-samples``, ``samples_*.jsonl``), its console log ``lm_eval.log``, and ``expo_run.json`` (the exact
  command). Each invocation runs in a temporary folder renamed into place when lm-eval succeeds, so a killed
  run leaves nothing half-written; a rerun skips invocations whose ``expo_run.json`` shows the same command.
* ``<task>.json`` — one per benchmark task (``arc_challenge``, ``mmlu``, ``leaderboard``, ...): lm-eval's
  results JSON restricted to that task and its subtasks (so ``mmlu.json`` holds the 57 subject accuracies),
  written atomically; ``expo.tables`` reads these.

Traps avoided (see lm-eval's CLI): ``device`` and ``batch_size`` never go into ``--model_args`` (the CLI
passes them again and the model constructor fails); ``--num_fewshot`` is global, hence one invocation per
shot count; local task YAMLs get absolute ``data_files`` paths.
"""

from __future__ import annotations

import importlib.metadata
import importlib.resources
import logging
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from expo.benchmarks.lmeval.suites import Invocation, plan
from expo.envs.vllm_cpu import check_model_for_engine, engine_environ
from expo.errors import ExpoError
from expo.io.atomic import atomic_dir, write_json, write_text
from expo.io.records import read_json

log = logging.getLogger(__name__)

LM_EVAL_VERSION = "0.4.13"
LM_EVAL_CMD = [sys.executable, "-m", "lm_eval"]  # the harness CLI, from this environment
LOCAL_TASKS = ("expo_tiny_mc",)
FORBIDDEN_MODEL_ARGS = ("device", "batch_size")
# keys of lm-eval's results JSON that are keyed by task name
PER_TASK_KEYS = (
    "results",
    "groups",
    "group_subtasks",
    "configs",
    "versions",
    "n-shot",
    "higher_is_better",
    "n-samples",
    "task_hashes",
)
TOP_LEVEL_KEYS = (
    "config",
    "lm_eval_version",
    "transformers_version",
    "date",
    "model_name",
    "model_source",
    "chat_template_sha",
    "fewshot_as_multiturn",
    "system_instruction",
    "total_evaluation_time_seconds",
)


@dataclass
class LmevalRequest:
    model: str
    out: str
    suite: str = "v1"
    backend: str = "vllm"
    tasks: list[str] | None = None
    limit: float | None = None
    batch_size: str = "auto"
    device: str | None = None
    dtype: str | None = None
    model_args: str | None = None  # extra k=v,k2=v2 for --model_args
    trust_remote_code: bool = False
    tensor_parallel_size: int | None = None
    log_samples: bool = False


def check_request(req: LmevalRequest) -> list[Invocation]:
    model = Path(req.model)
    if not model.is_dir():
        raise ExpoError(f"--model {model}: model directory not found")
    if not (model / "config.json").is_file():
        raise ExpoError(f"--model {model}: no config.json (not a Hugging Face model directory)")
    if req.backend not in ("vllm", "hf"):
        raise ExpoError(f"--backend {req.backend!r}: expected vllm or hf")
    invocations = plan(req.suite, req.tasks)
    if req.model_args:
        for item in req.model_args.split(","):
            key = item.split("=", 1)[0].strip()
            if "=" not in item or not key:
                raise ExpoError(f"--model-args {req.model_args!r}: expected k=v,k2=v2")
            if key in FORBIDDEN_MODEL_ARGS:
                raise ExpoError(
                    f"--model-args: {key!r} must not be in model_args (use --{key.replace('_', '-')})"
                )
    if req.limit is not None and req.limit <= 0:
        raise ExpoError(f"--limit {req.limit}: must be positive")
    if req.backend == "vllm":
        check_model_for_engine(model)  # vLLM's CPU build: a head_dim its attention runs
    try:
        version = importlib.metadata.version("lm_eval")
    except importlib.metadata.PackageNotFoundError:
        raise ExpoError(f"lm-eval is not installed (pip install 'lm-eval[hf]=={LM_EVAL_VERSION}')") from None
    if version != LM_EVAL_VERSION:
        log.warning("lm-eval %s installed; the pipeline is written for %s", version, LM_EVAL_VERSION)
    return invocations


def write_local_tasks(folder: Path) -> Path:
    """Write the packaged task YAMLs into ``folder`` with absolute data paths; return ``folder``."""
    resources = importlib.resources.files("expo") / "resources" / "lmeval_tasks"
    folder.mkdir(parents=True, exist_ok=True)
    for task in LOCAL_TASKS:
        with importlib.resources.as_file(resources / f"{task}.jsonl") as data:
            data_path = Path(data).resolve()
            if not data_path.is_file():
                raise ExpoError(f"packaged lm-eval data {data_path} is missing (broken install?)")
            template = (resources / f"{task}.yaml.template").read_text(encoding="utf-8")
            write_text(folder / f"{task}.yaml", template.replace("@DATA_FILE@", str(data_path)))
    return folder


def model_args(req: LmevalRequest) -> str:
    args = [f"pretrained={Path(req.model).resolve()}"]
    if req.backend == "vllm":
        args += [f"dtype={req.dtype or 'bfloat16'}", "gpu_memory_utilization=0.85", "seed=1234"]
        if req.tensor_parallel_size:
            args.append(f"tensor_parallel_size={req.tensor_parallel_size}")
    else:
        args.append(f"dtype={req.dtype or 'auto'}")
    if req.trust_remote_code:
        args.append("trust_remote_code=True")
    if req.model_args:
        args.append(req.model_args)
    return ",".join(args)


def default_device() -> str:
    try:
        import torch

        return "cuda:0" if torch.cuda.is_available() else "cpu"
    except ImportError:
        return "cpu"


def build_command(
    req: LmevalRequest, inv: Invocation, output_path: Path, include_path: Path | None
) -> list[str]:
    """The ``lm_eval run`` argv (after ``python -m lm_eval``) of one invocation."""
    cmd = [
        "run",
        "--model",
        req.backend,
        "--model_args",
        model_args(req),
        "--tasks",
        ",".join(inv.tasks),
        "--batch_size",
        str(req.batch_size),
        "--output_path",
        str(output_path),
    ]
    if req.backend == "hf":
        cmd += ["--device", req.device or default_device()]
    if inv.num_fewshot is not None:
        cmd += ["--num_fewshot", str(inv.num_fewshot)]
    if inv.chat:
        cmd += ["--apply_chat_template", "--fewshot_as_multiturn", "true"]
    if inv.local and include_path is not None:
        cmd += ["--include_path", str(include_path)]
    if req.limit is not None:
        cmd += ["--limit", str(int(req.limit) if float(req.limit).is_integer() else req.limit)]
    if req.log_samples:
        cmd.append("--log_samples")
    if req.trust_remote_code:
        cmd.append("--trust_remote_code")
    return cmd


def newest_results(folder: Path) -> Path:
    files = sorted(folder.rglob("results_*.json"), key=lambda p: p.name)
    if not files:
        raise ExpoError(f"{folder}: lm-eval wrote no results_*.json")
    return files[-1]


def _same_run(folder: Path, marker: dict) -> bool:
    done = folder / "expo_run.json"
    if not done.is_file():
        return False
    try:
        return read_json(done).get("command") == marker["command"] and any(folder.rglob("results_*.json"))
    except ExpoError:
        return False


def run_invocation(req: LmevalRequest, inv: Invocation, raw: Path, include_path: Path | None) -> Path:
    """Run one lm-eval invocation into ``raw/<name>/`` (skipped when already done); return its results file."""
    final = raw / inv.name
    marker = {"command": build_command(req, inv, Path("<output>"), include_path), "invocation": inv.name}
    if _same_run(final, marker):
        log.info("lm-eval %s: already done in %s, skipped", inv.name, final)
        return newest_results(final)
    with atomic_dir(final, force=True) as tmp:
        cmd = [*LM_EVAL_CMD, *build_command(req, inv, tmp / "output", include_path)]
        log.info("lm-eval %s: lm_eval %s", inv.name, " ".join(cmd[len(LM_EVAL_CMD) :]))
        env = {**os.environ, "TOKENIZERS_PARALLELISM": "false"}
        if req.backend == "vllm":
            env = engine_environ(env)  # vLLM's CPU build: a KV cache sized for the machine
        with open(tmp / "lm_eval.log", "w", encoding="utf-8") as logfh:
            proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
            tail: list[str] = []
            for line in proc.stdout:
                logfh.write(line)
                sys.stderr.write(line)
                tail = (tail + [line.rstrip()])[-20:]
            rc = proc.wait()
        if rc != 0:
            last = next((x for x in reversed(tail) if x.strip()), "no output")
            raise ExpoError(f"lm-eval {inv.name} failed (exit {rc}) for {req.model}: {last[-300:]}")
        newest_results(tmp)
        write_json(
            tmp / "expo_run.json", {**marker, "lm_eval_version": importlib.metadata.version("lm_eval")}
        )
    return newest_results(final)


def _members(task: str, group_subtasks: dict) -> list[str]:
    out, stack = [], [task]
    while stack:
        t = stack.pop(0)
        if t in out:
            continue
        out.append(t)
        stack += list(group_subtasks.get(t, []))
    return out


def task_result(results_file: Path, task: str, extra: dict) -> dict:
    """lm-eval's results JSON restricted to ``task`` and its subtasks (recursively)."""
    data = read_json(results_file)
    if not isinstance(data, dict) or not isinstance(data.get("results"), dict):
        raise ExpoError(f"{results_file}: not an lm-eval results file")
    members = _members(task, data.get("group_subtasks") or {})
    if not any(m in data["results"] or m in (data.get("groups") or {}) for m in members):
        raise ExpoError(f"{results_file}: no results for task {task}")
    out: dict = {}
    for key in PER_TASK_KEYS:
        if isinstance(data.get(key), dict):
            out[key] = {m: data[key][m] for m in members if m in data[key]}
    for key in TOP_LEVEL_KEYS:
        if key in data:
            out[key] = data[key]
    out["expo"] = extra
    return out


def run(req: LmevalRequest) -> dict[str, Path]:
    """Run every invocation of the suite, then write ``<out>/<task>.json``; return ``{task: path}``."""
    invocations = check_request(req)
    out = Path(req.out)
    raw = out / "raw"
    include_path = write_local_tasks(raw / "local_tasks") if any(i.local for i in invocations) else None
    written: dict[str, Path] = {}
    for inv in invocations:
        results_file = run_invocation(req, inv, raw, include_path)
        for task in inv.tasks:
            extra = {
                "suite": req.suite,
                "invocation": inv.name,
                "backend": req.backend,
                "limit": req.limit,
                "raw_results": str(results_file.relative_to(out)),
                "model_dir": str(req.model),
            }
            path = out / f"{task}.json"
            write_json(path, task_result(results_file, task, extra))
            written[task] = path
            log.info("lm-eval %s: wrote %s", task, path)
    return written
