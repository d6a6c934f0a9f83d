"""``python -m data_loaders.synthetic --subjects N --seed S --out DIR``: build a synthetic cohort."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from tqdm import tqdm

from data_loaders.synthetic.generate import DEFAULT_CHUNK_SIZE, generate_cohort


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m data_loaders.synthetic", description=__doc__)
    parser.add_argument("--subjects", type=int, default=5000, help="number of subjects (default 5000)")
    parser.add_argument("--seed", type=int, default=0, help="random seed; the same seed gives the same cohort")
    parser.add_argument("--out", type=Path, required=True, help="cohort folder to create")
    parser.add_argument(
        "--arrays",
        choices=("stored", "on-demand"),
        default="stored",
        help="store ECG/MRI arrays (default), or store none and regenerate each subject's arrays "
        "from its phenotypes and seed when read (for 100,000-subject cohorts)",
    )
    parser.add_argument("--workers", type=int, default=None, help="worker processes (default: one per core, at most 4)")
    parser.add_argument("--chunk-size", type=int, default=DEFAULT_CHUNK_SIZE, help="subjects per chunk written")
    parser.add_argument("--overwrite", action="store_true", help="replace an existing cohort folder")
    args = parser.parse_args(argv)
    try:
        with tqdm(total=args.subjects, unit="subject", desc="Generating cohort") as bar:
            generate_cohort(
                args.out,
                args.subjects,
                args.seed,
                arrays_mode=args.arrays,
                workers=args.workers,
                chunk_size=args.chunk_size,
                overwrite=args.overwrite,
                progress=lambda done, total: bar.update(done - bar.n),
            )
    except (FileExistsError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(f"Cohort written to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
