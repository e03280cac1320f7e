"""Generation: prompt sets, chat templating, the vLLM and transformers backends, resumable output files."""
