"""Official benchmark stages (AlpacaEval 2.0, MT-Bench, lm-eval): thin wrappers around the real harnesses."""
