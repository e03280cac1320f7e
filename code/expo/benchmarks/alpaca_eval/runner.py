"""Run official AlpacaEval 2.0 for one model: checks first, then ``alpaca_eval.evaluate``, then atomic outputs.

Order of work: read and check both outputs files, the judge (API key, reachability) and df_gamed.csv — every
problem is one ``ExpoError`` before any judging. Then ``alpaca_eval.evaluate`` runs with our per-judge
annotator config, no precomputed leaderboard (nothing in site-packages is read or written), alpaca_eval's
own cache off (``caching_path=None``, failed judgments not stored) and the annotator's completion function
wrapped by the judge journal (``journal``). Failed judgments are counted; above ``max_failed_fraction`` the
run fails with the count, and the judgments made so far stay in the journal. Outputs: ``annotations.json``
and ``leaderboard.csv`` in the output directory (alpaca_eval's formats; leaderboard.csv also has our ``judge``,
``judge_host``, ``annotator`` and ``n_failed`` columns) and ``leaderboard.judge.json`` (the shared judge
note), each written atomically.
"""

from __future__ import annotations

import contextlib
import logging
import math
import types
from dataclasses import dataclass, field
from pathlib import Path

from expo.benchmarks.alpaca_eval.inputs import (
    check_matches_reference,
    check_reference,
    load_outputs,
    renamed,
)
from expo.benchmarks.alpaca_eval.journal import JournaledCompletions, judge_journal
from expo.benchmarks.alpaca_eval.judge import client_config, require_alpaca_eval, write_annotator_config
from expo.benchmarks.alpaca_eval.length_control import make_metric, resolve_df_gamed
from expo.benchmarks.alpaca_eval.request import AlpacaEvalRequest
from expo.benchmarks.judge_client import JudgeClient, redact, resolve_api_key, write_judge_note
from expo.errors import ExpoError
from expo.io.atomic import atomic_file, write_json
from expo.io.journal import Journal

log = logging.getLogger(__name__)


@dataclass
class AlpacaEvalResult:
    """What a run produced: its leaderboard.csv row, failure count, request counts and output paths."""

    name: str
    leaderboard: dict
    n_failed: int
    n_total: int
    n_requests: int
    n_reused: int
    out_dir: Path
    files: list[Path] = field(default_factory=list)


def _annotator_class(journal: Journal, concurrency: int):
    from alpaca_eval.annotators import PairwiseAnnotator

    class JournaledPairwiseAnnotator(PairwiseAnnotator):
        """alpaca_eval's PairwiseAnnotator whose judge calls go through the journal."""

        wrappers: list[JournaledCompletions] = []

        def _initialize_annotators(self, **kwargs):
            annotators = super()._initialize_annotators(**kwargs)
            for name, single in annotators.items():
                wrapper = JournaledCompletions(
                    single.fn_completions, single.fn_completion_parser, journal, name, concurrency
                )
                single.fn_completions = wrapper
                JournaledPairwiseAnnotator.wrappers.append(wrapper)
            return annotators

    return JournaledPairwiseAnnotator


@contextlib.contextmanager
def _quiet_alpaca_eval():
    """alpaca_eval logs several INFO lines and draws a tqdm bar per request: keep warnings and our own bar."""
    from alpaca_eval.decoders import openai as ae_openai

    root = logging.getLogger()
    ours = logging.getLogger("expo")
    old_root, old_ours, old_tqdm = root.level, ours.level, ae_openai.tqdm
    ours.setLevel(ours.getEffectiveLevel())
    root.setLevel(max(old_root, logging.WARNING))
    ae_openai.tqdm = types.SimpleNamespace(tqdm=lambda iterable, **kwargs: iterable)
    try:
        yield
    finally:
        root.setLevel(old_root)
        ours.setLevel(old_ours)
        ae_openai.tqdm = old_tqdm


@contextlib.contextmanager
def _shared_http_client():
    """One HTTP client for all requests: alpaca_eval builds an OpenAI client per request, and each new client
    would otherwise load the CA bundle into a fresh SSL context (~0.1 s of CPU per judgment)."""
    import openai

    http = openai.DefaultHttpxClient()
    try:
        yield http
    finally:
        http.close()


def _is_failed(preference) -> bool:
    try:
        value = float(preference)
    except (TypeError, ValueError):
        return True
    return not (math.isfinite(value) and 1.0 <= value <= 2.0)


def _one_line(exc: BaseException, key: str | None) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return redact(f"{type(exc).__name__}: {text[:300]}", key)


def run(req: AlpacaEvalRequest) -> AlpacaEvalResult:
    """Judge the model outputs against the reference with AlpacaEval 2.0 and write the results to ``out_dir``."""
    judge = req.judge
    out_dir = Path(req.out_dir)
    max_failed_fraction = req.max_failed_fraction
    if not 0.0 <= max_failed_fraction <= 1.0:
        raise ExpoError(f"--max-failed-fraction {max_failed_fraction} is not in [0, 1]")

    require_alpaca_eval()

    # 1. inputs
    ref = load_outputs(req.reference, "reference")
    check_reference(ref)
    model = load_outputs(req.model_outputs, "model outputs")
    name = req.name or model.generator
    if not name.strip():
        raise ExpoError("--name is empty")
    ref = check_matches_reference(model, ref, name, req.allow_prefix)
    model_records = renamed(model, name)

    # 2. judge and LC data, before any judging
    key = resolve_api_key(judge)
    JudgeClient(judge, key).probe()
    gamed = resolve_df_gamed(req.df_gamed)
    if gamed.reason:
        log.warning("length-controlled win rate unavailable: %s", gamed.reason)

    import pandas as pd
    from alpaca_eval import evaluate

    judge_dir = Path(req.cache_dir) / judge.slug
    config_path = write_annotator_config(judge, judge_dir)
    journal = judge_journal(judge_dir)
    log.info(
        "judge %s (%s), %d judgments journaled in %s",
        judge.judge_model,
        judge.host,
        len(journal.records),
        journal.path,
    )
    Annotator = _annotator_class(journal, judge.concurrency)
    metric = make_metric(gamed, len(ref.records))

    # 3. judging through the official evaluate()
    try:
        with client_config(judge, key) as client_yaml, _shared_http_client() as http, _quiet_alpaca_eval():
            df_leaderboard, annotations = evaluate(
                model_outputs=pd.DataFrame(model_records),
                reference_outputs=pd.DataFrame(ref.records),
                annotators_config=str(config_path.resolve()),
                name=name,
                output_path=None,
                precomputed_leaderboard=None,
                is_overwrite_leaderboard=True,
                is_return_instead_of_print=True,
                is_cache_leaderboard=False,
                fn_metric=metric,
                sort_by="win_rate",
                Annotator=Annotator,
                caching_path=None,
                is_avoid_reannotations=False,
                is_store_missing_annotations=False,
                annotation_kwargs={
                    "chunksize": None,
                    "client_config_path": str(client_yaml),
                    "client_kwargs": {"http_client": http},
                },
            )
    except ExpoError:
        raise
    except Exception as exc:  # noqa: BLE001 - judge/API failures become one line; the journal keeps progress
        journal.close()
        done = journal.n_written
        raise ExpoError(
            f"judging {name} with {judge.judge_model} failed: {_one_line(exc, key)} "
            f"({done} new judgments kept in {journal.path}; a rerun resumes)"
        ) from None
    journal.close()
    wrappers = Annotator.wrappers
    n_requests = sum(w.n_requests for w in wrappers)
    n_reused = sum(w.n_reused for w in wrappers)

    # 4. failed judgments
    rows = pd.DataFrame(annotations)
    n_total = len(rows)
    n_failed = int(sum(_is_failed(p) for p in rows["preference"]))
    if n_total != len(ref.records):
        raise ExpoError(f"alpaca_eval returned {n_total} annotations for {len(ref.records)} instructions")
    if n_failed > max_failed_fraction * n_total:
        raise ExpoError(
            f"{n_failed} of {n_total} judgments failed for {name} (judge {judge.judge_model}; allowed fraction "
            f"{max_failed_fraction}); the {n_total - n_failed} good ones are kept in {journal.path}, a rerun retries the failed"
        )
    if n_failed:
        log.warning("%d of %d judgments failed (allowed fraction %s)", n_failed, n_total, max_failed_fraction)

    # 5. outputs (leaderboard last: its presence means the run is complete)
    df_leaderboard = df_leaderboard.copy()
    df_leaderboard["n_failed"] = n_failed
    df_leaderboard["judge"] = judge.judge_model
    df_leaderboard["annotator"] = judge.annotator_name
    df_leaderboard["judge_host"] = judge.host
    out_dir.mkdir(parents=True, exist_ok=True)
    files = []
    if req.outputs_copy is not None:
        write_json(req.outputs_copy, model_records)
        files.append(Path(req.outputs_copy))
    with atomic_file(out_dir / "annotations.json") as fh:
        rows.to_json(fh, orient="records", indent=2, force_ascii=False)
        fh.write("\n")
    write_judge_note(out_dir / "leaderboard.csv", [judge.identity()])
    with atomic_file(out_dir / "leaderboard.csv") as fh:
        df_leaderboard.to_csv(fh)
    files += [out_dir / "annotations.json", out_dir / "leaderboard.judge.json", out_dir / "leaderboard.csv"]

    row = df_leaderboard.loc[name].to_dict()
    log.info(
        "%s: win rate %.2f, LC %s, %d judge requests, %d reused from the journal, %d failed",
        name,
        row["win_rate"],
        "n/a"
        if not math.isfinite(float(row["length_controlled_winrate"]))
        else f"{row['length_controlled_winrate']:.2f}",
        n_requests,
        n_reused,
        n_failed,
    )
    return AlpacaEvalResult(
        name=name,
        leaderboard=row,
        n_failed=n_failed,
        n_total=n_total,
        n_requests=n_requests,
        n_reused=n_reused,
        out_dir=out_dir,
        files=files,
    )
