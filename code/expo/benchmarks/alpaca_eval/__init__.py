"""AlpacaEval 2.0 stage: the official alpaca_eval annotator and metrics against a configured judge.

* ``inputs``: load and check model outputs and reference outputs (one-line errors naming file and index);
* ``judge``: judge settings, per-judge annotator config, OpenAI client config, API key and reachability checks;
* ``journal``: the per-judge, append-only store of judge completions (a kill or rerun never pays twice);
* ``length_control``: where ``df_gamed.csv`` comes from (local file or hub), or why LC is unavailable;
* ``runner``: ``run_alpaca_eval`` ties them together and writes annotations.json + leaderboard.csv atomically.

Submodules are imported on use.
"""

__all__ = ["AlpacaEvalResult", "JudgeSettings", "run_alpaca_eval"]


def __getattr__(name):
    # imported on use: the DAG imports ``workflow_args`` at parse time and must not pay for numpy/pandas
    if name == "JudgeSettings":
        from expo.benchmarks.alpaca_eval.judge import JudgeSettings

        return JudgeSettings
    if name in ("AlpacaEvalResult", "run_alpaca_eval"):
        from expo.benchmarks.alpaca_eval import runner

        return getattr(runner, name)
    raise AttributeError(name)
