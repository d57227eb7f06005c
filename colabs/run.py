"""Execute the notebooks in colabs/ with a real Jupyter kernel (nbclient), optionally storing the outputs.

    python colabs/run.py                 # run every notebook, report each one's time, store nothing
    python colabs/run.py --write         # run and store the outputs in the .ipynb files (`make notebooks`)
    python colabs/run.py --write cells   # only the notebooks whose name contains "cells"

Each notebook runs in its own kernel with colabs/ as the working directory; any cell that raises stops
that notebook with the cell's error (exit status 1). tests/test_colabs.py runs them the same way.
"""

import argparse
import os
import re
import sys
import time
from pathlib import Path

import nbclient
import nbformat

HERE = Path(__file__).resolve().parent
CELL_TIMEOUT_S = 240  # a cell that runs longer fails (a notebook should take under ~3 minutes in all)


def notebooks(patterns=()) -> list[Path]:
    paths = sorted(HERE.glob("*.ipynb"))
    return [p for p in paths if not patterns or any(s in p.name for s in patterns)]


def execute(path: Path) -> nbformat.NotebookNode:
    """The notebook at `path` executed top to bottom in a fresh python3 kernel (outputs in the returned copy)."""
    nb = nbformat.read(path, as_version=4)
    client = nbclient.NotebookClient(nb, timeout=CELL_TIMEOUT_S, kernel_name="python3",
                                     resources={"metadata": {"path": str(HERE)}})
    env = dict(os.environ)  # the kernel runs on the one CPU device a user has (not the test suite's 8)
    env["XLA_FLAGS"] = re.sub(r"--xla_force_host_platform_device_count=\d+", "", env.get("XLA_FLAGS", "")).strip()
    client.execute(env=env)
    return nb


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--write", action="store_true", help="store the outputs in the notebook files")
    parser.add_argument("patterns", nargs="*", help="run only notebooks whose file name contains one of these")
    args = parser.parse_args(argv)
    failed = 0
    for path in notebooks(args.patterns):
        start = time.perf_counter()
        try:
            nb = execute(path)
        except nbclient.exceptions.CellExecutionError as e:
            failed += 1
            print(f"{path.name}: FAILED after {time.perf_counter() - start:.0f} s\n{e}", file=sys.stderr)
            continue
        if args.write:
            nbformat.write(nb, path)
        print(f"{path.name}: {time.perf_counter() - start:.0f} s{' (outputs stored)' if args.write else ''}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
