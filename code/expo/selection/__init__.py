"""Alpha selection: per-alpha reward statistics over the UltraFeedback sweep, the chosen alpha, and its plot."""
