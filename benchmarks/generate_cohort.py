"""Time ``python -m data_loaders.synthetic`` and its peak memory (all worker processes included).

    .venv/bin/python -m benchmarks.generate_cohort --subjects 1000 5000

Memory should stay flat as the cohort grows (arrays are streamed to disk chunk by chunk); the
issue's goal is 5,000 subjects in under 3 minutes on a 2-core machine.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from benchmarks.process_tree import run_measured


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--subjects", type=int, nargs="+", default=[1000, 5000])
    parser.add_argument("--arrays", choices=("stored", "on-demand"), default="stored")
    parser.add_argument("--workers", type=int, default=None)
    args = parser.parse_args()
    print(f"{'subjects':>9} {'arrays':>10} {'seconds':>9} {'subjects/s':>11} {'peak MiB':>9} {'disk MiB':>9}")
    for n in args.subjects:
        folder = Path(tempfile.mkdtemp(prefix="bench-cohort-"))
        command = [sys.executable, "-m", "data_loaders.synthetic", "--subjects", str(n), "--out", str(folder / "cohort"),
                   "--arrays", args.arrays]
        if args.workers:
            command += ["--workers", str(args.workers)]
        try:
            seconds, peak_mib, code = run_measured(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            if code:
                raise SystemExit(f"generation of {n} subjects failed with exit code {code}")
            disk = sum(p.stat().st_size for p in (folder / "cohort").iterdir()) / 2**20
            print(f"{n:>9} {args.arrays:>10} {seconds:>9.1f} {n / seconds:>11.1f} {peak_mib:>9.0f} {disk:>9.0f}")
        finally:
            shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
