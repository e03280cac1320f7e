"""Time `snakemake -n` on the paper config (target: < 3 s, offline) and count jobs per rule.

python benchmarks/dag_build.py [--config config/config.yaml] [--repeat 3]
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--config", default=str(ROOT / "config" / "config.yaml"))
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    env = dict(os.environ, HF_HUB_OFFLINE="1")
    times = []
    with tempfile.TemporaryDirectory() as work:
        for _ in range(args.repeat):
            t0 = time.perf_counter()
            res = subprocess.run(
                [
                    sys.executable,
                    "-m",
                    "snakemake",
                    "-s",
                    str(ROOT / "Snakefile"),
                    "-n",
                    "--configfile",
                    args.config,
                ],
                cwd=work,
                capture_output=True,
                text=True,
                env=env,
            )
            times.append(time.perf_counter() - t0)
            if res.returncode != 0:
                sys.exit(res.stderr)
    stats = re.search(r"Job stats:\n(.*?)\n\n", res.stdout, re.S)
    print(stats.group(1) if stats else res.stdout[-2000:])
    print(
        f"snakemake -n wall time over {args.repeat} runs: median {statistics.median(times):.2f} s, "
        f"min {min(times):.2f} s, max {max(times):.2f} s (target < 3 s)"
    )


if __name__ == "__main__":
    main()
