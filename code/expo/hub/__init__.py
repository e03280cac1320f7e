"""Downloads from the HuggingFace hub, run by localrules so compute jobs can stay offline."""
