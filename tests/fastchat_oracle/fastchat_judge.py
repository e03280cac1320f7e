"""Run FastChat 0.2.36's own MT-Bench single-grade judging, unmodified, against an OpenAI-compatible server.

Runs inside the isolated FastChat env (tests/envs/fastchat_oracle.yaml: fschat 0.2.36, openai 0.28.1), started
by tests/test_mt_bench_fastchat_equivalence.py, which serves scripted judge replies on a loopback HTTP server
(``OPENAI_API_BASE``) and records every request. Nothing of FastChat is patched: openai 0.28.1's real client
sends the requests. What this script adds is only what ``gen_judgment.py`` does inside its ``__main__`` block
(assembling the matches in its order and playing them with ``--parallel 1``), and ``show_result``'s
``display_result_single`` called on the judgment file with its ``print`` captured.

    python fastchat_judge.py DATA_DIR OUT_DIR MODEL [MODEL ...]

writes OUT_DIR/gpt-4_single.jsonl (FastChat's judgment file) and OUT_DIR/oracle.json (versions, the number
of matches, and show_result's turn 1 / turn 2 / average scores per model).
"""

from __future__ import annotations

import json
import sys
import types
from pathlib import Path

import fastchat
import openai
from fastchat.llm_judge import common, gen_judgment, show_result

JUDGE = "gpt-4"


def main() -> None:
    data, out, models = Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3:]
    questions = common.load_questions(str(data / "question.jsonl"), None, None)
    model_answers = common.load_model_answers(str(data / "model_answer"))
    ref_answers = common.load_model_answers(str(data / "reference_answer"))
    judge_prompts = common.load_judge_prompts(str(data / "judge_prompts.jsonl"))
    judges = gen_judgment.make_judge_single(JUDGE, judge_prompts)
    gen_judgment.check_data(questions, model_answers, ref_answers, models, judges)

    # gen_judgment.py's __main__, mode "single"
    question_math = [q for q in questions if q["category"] in common.NEED_REF_CATS]
    question_default = [q for q in questions if q["category"] not in common.NEED_REF_CATS]
    make = gen_judgment.make_match_single
    matches = []
    matches += make(question_default, models, model_answers, judges["default"], None)
    matches += make(question_math, models, model_answers, judges["math"], None, ref_answers)
    matches += make(question_default, models, model_answers, judges["default-mt"], None, multi_turn=True)
    matches += make(
        question_math, models, model_answers, judges["math-mt"], None, ref_answers, multi_turn=True
    )

    judgment_file = out / f"{JUDGE}_single.jsonl"
    judgment_file.unlink(missing_ok=True)
    for match in matches:  # --parallel 1: in match order
        common.play_a_match_single(match, output_file=str(judgment_file))

    frames = []
    show_result.print = lambda *a, **k: frames.extend(x for x in a if hasattr(x, "reset_index"))
    args = types.SimpleNamespace(
        input_file=str(judgment_file), bench_name="mt_bench", judge_model=JUDGE, model_list=None
    )
    show_result.display_result_single(args)
    turn1, turn2, average = (f.reset_index() for f in frames)

    def column(frame, model):
        rows = frame.loc[frame.model == model, "score"]
        return float(rows.iloc[0]) if len(rows) else None

    scores = {
        m: {"turn1": column(turn1, m), "turn2": column(turn2, m), "score": column(average, m)} for m in models
    }
    oracle = {
        "fschat": fastchat.__version__,
        "openai": openai.__version__,
        "common_file": common.__file__,
        "n_matches": len(matches),
        "need_ref_cats": common.NEED_REF_CATS,
        "temperature_config": common.temperature_config,
        "scores": scores,
    }
    (out / "oracle.json").write_text(json.dumps(oracle, indent=1) + "\n")


if __name__ == "__main__":
    main()
