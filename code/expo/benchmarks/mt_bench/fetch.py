"""Get the MT-Bench data (questions, judge prompts, GPT-4 reference answers) of FastChat tag v0.2.36.

Downloaded from raw.githubusercontent.com at the tag, or copied from a local folder with the same layout
(``question.jsonl``, ``judge_prompts.jsonl``, ``reference_answer/gpt-4.jsonl``; FastChat's own
``data/mt_bench`` folder with ``judge_prompts.jsonl`` one level up also works). Each file is checked against
its git blob SHA-1 at the tag: a download that differs is an error, a local copy that differs a warning
(custom question sets are allowed). The folder is written atomically.
"""

from __future__ import annotations

import hashlib
import logging
import os
import shutil
import urllib.error
import urllib.request
from pathlib import Path

from expo.benchmarks.mt_bench.data import load_judge_prompts, load_questions, load_reference
from expo.errors import ExpoError
from expo.io.atomic import atomic_dir

log = logging.getLogger(__name__)

FASTCHAT_TAG = "v0.2.36"
RAW_BASE = f"https://raw.githubusercontent.com/lm-sys/FastChat/{FASTCHAT_TAG}/fastchat/llm_judge/data"
# file in the output folder -> (path under fastchat/llm_judge/data at the tag, git blob SHA-1 at the tag)
FILES = {
    "question.jsonl": ("mt_bench/question.jsonl", "464e2c22f7a021a0f9a584d232338a9a17c40066"),
    "judge_prompts.jsonl": ("judge_prompts.jsonl", "4ec7524cbcdf308766fddc52df31e203316ad75f"),
    "reference_answer/gpt-4.jsonl": (
        "mt_bench/reference_answer/gpt-4.jsonl",
        "8b66387a3129cbb117178fe515491df553dd52df",
    ),
}


def git_blob_sha1(data: bytes) -> str:
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


def _download(url: str, timeout: float = 60.0) -> bytes:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as resp:
            return resp.read()
    except (urllib.error.URLError, OSError) as exc:
        raise ExpoError(f"cannot download {url}: {getattr(exc, 'reason', exc)}") from None


def _local_source(src: Path, name: str) -> Path:
    for candidate in (src / name, src.parent / name):
        if candidate.is_file():
            return candidate
    raise ExpoError(
        f"{src}: no {name} (expected question.jsonl, judge_prompts.jsonl, reference_answer/gpt-4.jsonl)"
    )


def _validate(folder: Path) -> None:
    questions = load_questions(folder / "question.jsonl")
    load_judge_prompts(folder / "judge_prompts.jsonl")
    load_reference(folder / "reference_answer/gpt-4.jsonl", questions)


def fetch_mt_bench(out: str | os.PathLike, source: str | os.PathLike | None = None) -> Path:
    """Write the three MT-Bench files into ``out`` (replaced only once complete and validated)."""
    out = Path(out)
    src = Path(source) if source is not None else None
    if src is not None and not src.is_dir():
        raise ExpoError(f"--from {src}: not a directory")
    with atomic_dir(out, force=True) as tmp:
        for name, (upstream, blob_sha) in FILES.items():
            target = tmp / name
            target.parent.mkdir(parents=True, exist_ok=True)
            if src is None:
                url = f"{RAW_BASE}/{upstream}"
                log.info("downloading %s", url)
                data = _download(url)
                if git_blob_sha1(data) != blob_sha:
                    raise ExpoError(
                        f"{url}: content differs from FastChat {FASTCHAT_TAG} (blob {blob_sha[:8]})"
                    )
                target.write_bytes(data)
            else:
                origin = _local_source(src, name)
                shutil.copyfile(origin, target)
                if git_blob_sha1(target.read_bytes()) != blob_sha:
                    log.warning(
                        "%s differs from FastChat %s's %s (custom data?)", origin, FASTCHAT_TAG, upstream
                    )
        _validate(tmp)
    return out
