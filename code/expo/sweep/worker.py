"""vLLM worker extension: replace a running engine's weights by θ(α) through vLLM's own loaders.

Passed to ``vllm.LLM(worker_extension_cls="expo.sweep.worker.SweepWorkerExtension")``; vLLM mixes the class
into every worker, and ``llm.collective_rpc("expo_load_theta", args=(sft, aligned, alpha, precision))`` runs
the method on each of them. Each worker computes the full θ(α) tensors in checkpoint naming
(:func:`expo.sweep.weights.iter_theta`) and hands them to ``reload_weights(weights_iterator=...)``, whose
``load_weights`` fuses q/k/v and gate/up and takes this worker's tensor-parallel shard, exactly as a load from
disk would; ``process_weights_after_loading`` re-runs (repacking where the platform repacks).
"""

from __future__ import annotations

import contextlib
import os
import time


@contextlib.contextmanager
def _compute_threads():
    """On a GPU worker, θ(α) is computed on the host with the worker's share of the job's CPUs (vLLM serves with
    one torch thread); on vLLM's CPU platform the threads are bound to cores and left as they are."""
    import torch

    if not torch.cuda.is_available():
        yield
        return
    before = torch.get_num_threads()
    world = max(int(os.environ.get("LOCAL_WORLD_SIZE", "0") or 0), torch.cuda.device_count(), 1)
    torch.set_num_threads(max(1, len(os.sched_getaffinity(0)) // world))
    try:
        yield
    finally:
        torch.set_num_threads(before)


class SweepWorkerExtension:
    """Methods added to vLLM's worker class (``self`` is the worker)."""

    def expo_load_theta(self, sft: str, aligned: str, alpha: float, precision: str = "reference") -> dict:
        from expo.sweep.weights import iter_theta

        start = time.perf_counter()
        count = 0
        nbytes = 0

        def counted():
            nonlocal count, nbytes
            for name, tensor in iter_theta(sft, aligned, alpha, precision):
                count += 1
                nbytes += tensor.numel() * tensor.element_size()
                yield name, tensor

        with _compute_threads():
            self.reload_weights(weights_iterator=counted())
        return {"tensors": count, "bytes": nbytes, "seconds": time.perf_counter() - start}
