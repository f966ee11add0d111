"""``python -m mlcost.sample OUT_DIR [--rows N] [--format parquet|csv.gz] [--seed S]``"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from mlcost.sample.writer import FORMATS, write_sample


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m mlcost.sample",
        description="Write the Acme Vision sample organisation (tables and answer key), "
        "or with --rows a large FOCUS cost file for benchmarks.",
    )
    parser.add_argument("out_dir", type=Path, help="folder to write into (created if missing)")
    parser.add_argument(
        "--rows", type=int, default=None, help="write only cost.<format> with exactly N rows"
    )
    parser.add_argument("--format", dest="fmt", choices=FORMATS, default="parquet")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args(argv)
    if args.rows is not None and args.rows < 0:
        parser.error("--rows must be >= 0")
    written = write_sample(args.out_dir, seed=args.seed, rows=args.rows, fmt=args.fmt)
    for name, path in written.items():
        print(f"{name}\t{path}\t{path.stat().st_size} bytes")
    return 0


if __name__ == "__main__":
    sys.exit(main())
