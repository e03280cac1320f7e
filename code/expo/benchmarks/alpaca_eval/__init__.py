"""AlpacaEval 2.0 stage: the official alpaca_eval annotator and metrics against a configured judge.

``run(AlpacaEvalRequest(...)) -> AlpacaEvalResult`` is the stage. Modules:

* ``request``: the request (its fields carry the CLI's and the DAG's defaults);
* ``inputs``: load and check model outputs and reference outputs (one-line errors naming file and index);
* ``judge``: the AlpacaEval judge's defaults (``AlpacaEvalJudge``), annotator config, openai client config
  (key, probe and retries are the shared ``expo.benchmarks.judge_client``'s);
* ``journal``: the per-judge store of judge completions on ``expo.io.journal`` (a kill or rerun never pays twice);
* ``length_control``: where ``df_gamed.csv`` comes from (local file or hub), or why LC is unavailable;
* ``runner``: ``run`` ties them together and writes annotations.json + leaderboard.csv atomically.

Submodules are imported on use.
"""

__all__ = ["AlpacaEvalJudge", "AlpacaEvalRequest", "AlpacaEvalResult", "run"]


def __getattr__(name):
    # imported on use: the DAG imports ``workflow_args`` at parse time and must not pay for numpy/pandas
    if name == "AlpacaEvalJudge":
        from expo.benchmarks.alpaca_eval.judge import AlpacaEvalJudge

        return AlpacaEvalJudge
    if name == "AlpacaEvalRequest":
        from expo.benchmarks.alpaca_eval.request import AlpacaEvalRequest

        return AlpacaEvalRequest
    if name in ("AlpacaEvalResult", "run"):
        from expo.benchmarks.alpaca_eval import runner

        return getattr(runner, name)
    raise AttributeError(name)
