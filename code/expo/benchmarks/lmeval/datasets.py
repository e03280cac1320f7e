"""lm-eval's datasets for the enabled suites, fetched on the submit host into a project cache jobs read offline.

The datasets a suite needs are read from lm-eval's own task index (its task YAMLs, no download); each is
loaded once with ``datasets.load_dataset(path, name, cache_dir=<cache>)``, so an offline job with
``HF_DATASETS_CACHE=<cache>`` and ``HF_DATASETS_OFFLINE=1`` finds it (workflow/rules/resources.smk sets both).
The cache is ``lmeval.datasets_cache`` in config (default ``resources/hf_datasets`` under the results root;
point it at a shared file system when compute nodes do not see the submit host's disk). A manifest per suite
(``<cache>/expo_<suite>.json``, written last and atomically) marks a complete fetch.

Gated datasets (GPQA in the v2 leaderboard) need a Hugging Face token of an account that accepted their terms:
without one, :func:`check_gated` stops the DAG build with one line naming the dataset and how to get access.
"""

from __future__ import annotations

import functools
import json
import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from expo.errors import ExpoError

log = logging.getLogger(__name__)

DEFAULT_CACHE = "resources/hf_datasets"
# suite -> gated hub datasets it reads, with the page where access is requested (checked against lm-eval's
# task index by tests/test_lmeval_datasets.py)
GATED = {"v2": {"Idavidrein/gpqa": "https://huggingface.co/datasets/Idavidrein/gpqa"}}
# builder names and local files are not hub datasets: nothing to fetch
LOCAL_BUILDERS = {"json", "csv", "parquet", "text", "arrow", "pandas"}


@dataclass(frozen=True)
class DatasetRef:
    path: str
    name: str | None = None
    kwargs: tuple[tuple[str, object], ...] = ()

    def label(self) -> str:
        return self.path + (f"/{self.name}" if self.name else "")


def datasets_cache_dir(config: Mapping) -> str:
    """Where lm-eval's datasets live: ``lmeval.datasets_cache`` or the default, relative to the results root."""
    return str((config.get("lmeval") or {}).get("datasets_cache") or DEFAULT_CACHE)


def export_cache_env(config: Mapping, environ: dict | None = None) -> str:
    """Point ``HF_DATASETS_CACHE`` of this process (and the jobs it starts) at the project cache; returns it."""
    environ = os.environ if environ is None else environ
    cache = os.path.abspath(datasets_cache_dir(config))
    environ["HF_DATASETS_CACHE"] = cache
    return cache


def suite_data_inputs(config: Mapping, suite: str) -> list[str]:
    """What an lm-eval job of ``suite`` needs fetched first: the suite's manifest (nothing for the local task)."""
    return [] if suite == "local" else [manifest_path(datasets_cache_dir(config), suite)]


def manifest_path(cache: str, suite: str) -> str:
    return os.path.join(cache, f"expo_{suite}.json")


def _task_configs(index, name: str, seen: set[str]) -> list[dict]:
    """Leaf task configs (YAML dicts, includes merged, functions unresolved) of a task, group or tag."""
    from lm_eval.tasks._yaml_loader import load_yaml

    if name in seen:
        return []
    seen.add(name)
    entry = index.get(name)
    if entry is None:
        raise ExpoError(f"lm-eval has no task, group or tag {name!r}")
    kind = entry.kind.name
    if kind == "TAG":
        return [c for t, e in sorted(index.items()) if name in e.tags for c in _task_configs(index, t, seen)]
    cfg = load_yaml(entry.yaml_path, resolve_func=False) if entry.yaml_path else dict(entry.cfg or {})
    if kind == "GROUP":
        out = []
        for sub in cfg.get("task") or []:
            if isinstance(sub, str):
                out += _task_configs(index, sub, seen)
            elif isinstance(sub, dict) and isinstance(sub.get("task"), str) and sub["task"] in index:
                base = _task_configs(index, sub["task"], seen)
                out += [{**c, **{k: v for k, v in sub.items() if k.startswith("dataset_")}} for c in base]
            elif isinstance(sub, dict):
                out.append(sub)
        return out
    return [cfg]


@functools.lru_cache(maxsize=1)
def _task_index():
    from lm_eval.tasks import TaskManager

    return TaskManager().task_index


def suite_datasets(suite: str) -> list[DatasetRef]:
    """The hub datasets the suite's lm-eval tasks load (from lm-eval's task index; nothing is downloaded)."""
    from expo.benchmarks.lmeval.suites import get_suite

    index = _task_index()
    refs: dict[DatasetRef, None] = {}
    seen: set[str] = set()
    for invocation in get_suite(suite).invocations:
        if invocation.local:
            continue
        for task in invocation.tasks:
            for cfg in _task_configs(index, task, seen):
                path = cfg.get("dataset_path")
                if not path or path in LOCAL_BUILDERS or os.path.exists(str(path)):
                    continue
                kwargs = tuple(sorted((cfg.get("dataset_kwargs") or {}).items()))
                refs[DatasetRef(str(path), cfg.get("dataset_name"), kwargs)] = None
    return list(refs)


def hf_token(environ: Mapping[str, str] | None = None) -> str | None:
    """The Hugging Face token the submit host would use (HF_TOKEN, or the token file); never printed."""
    environ = os.environ if environ is None else environ
    if environ.get("HF_TOKEN"):
        return environ["HF_TOKEN"]
    try:
        from huggingface_hub import get_token

        return get_token()
    except Exception:  # an unreadable token file is no token
        return None


def check_gated(suites: list[str], cache: str, environ: Mapping[str, str] | None = None) -> None:
    """One line naming a gated dataset an enabled suite needs when no token is there to fetch it (and it is not
    already in the cache)."""
    for suite in suites:
        if os.path.exists(manifest_path(cache, suite)):
            continue
        for dataset, url in GATED.get(suite, {}).items():
            if hf_token(environ) is None:
                raise ExpoError(
                    f"lm-eval suite {suite} needs the gated dataset {dataset}: accept its terms at {url} while "
                    "logged in, then set HF_TOKEN (or run `hf auth login`) on the submit host, or disable "
                    f"lmeval.suites.{suite}"
                )


def _load(ref: DatasetRef, cache: str) -> None:
    """Download and prepare one dataset into the cache (the hub call; tests replace it with local files)."""
    import datasets

    datasets.load_dataset(ref.path, ref.name, cache_dir=cache, **dict(ref.kwargs))


@dataclass
class FetchRequest:
    suite: str
    cache: str = DEFAULT_CACHE
    datasets: list[DatasetRef] | None = field(default=None)  # None = read from lm-eval's task index


def run(req: FetchRequest) -> Path:
    """Fetch every dataset of the suite into the cache; the manifest is written last (atomically)."""
    from tqdm import tqdm

    from expo.io.atomic import atomic_file

    check_gated([req.suite], req.cache)
    refs = suite_datasets(req.suite) if req.datasets is None else req.datasets
    os.makedirs(req.cache, exist_ok=True)
    for ref in tqdm(refs, desc=f"lm-eval {req.suite} datasets", unit="dataset"):
        try:
            _load(ref, req.cache)
        except ExpoError:
            raise
        except Exception as exc:
            hint = (
                " (gated: set HF_TOKEN of an account with access)"
                if ref.path in GATED.get(req.suite, {})
                else ""
            )
            raise ExpoError(
                f"cannot fetch lm-eval dataset {ref.label()}: {str(exc).splitlines()[0]}{hint}"
            ) from exc
    out = Path(manifest_path(req.cache, req.suite))
    with atomic_file(out) as fh:
        json.dump({"suite": req.suite, "datasets": [r.label() for r in refs]}, fh, indent=1)
    log.info("lm-eval %s: %d datasets in %s", req.suite, len(refs), req.cache)
    return out
