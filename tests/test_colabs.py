"""Every notebook in colabs/ runs top to bottom in a real Jupyter kernel, and the committed copy holds its
outputs (figures included) and no error."""

import json
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent.parent / "colabs"))
import run as colabs  # noqa: E402  (colabs/run.py: the same execution as `make notebooks`)

NOTEBOOKS = colabs.notebooks()
IDS = [p.name for p in NOTEBOOKS]


def test_there_are_notebooks():
    assert len(NOTEBOOKS) >= 4, [p.name for p in NOTEBOOKS]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_notebook_runs_in_a_kernel(path):
    nb = colabs.execute(path)  # raises CellExecutionError (with the cell and its traceback) on any error
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert code and all(c.execution_count for c in code), f"{path.name}: a code cell did not run"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_committed_notebook_has_outputs_and_no_error(path):
    cells = json.loads(path.read_text())["cells"]
    code = [c for c in cells if c["cell_type"] == "code"]
    assert all(c.get("execution_count") for c in code), \
        f"{path.name}: stored without outputs; run `make notebooks` and commit the result"
    outputs = [o for c in code for o in c.get("outputs", [])]
    errors = [o for o in outputs if o["output_type"] == "error"]
    assert not errors, f"{path.name}: a stored output is an error: {errors[0].get('ename')}: {errors[0].get('evalue')}"
    figures = [o for o in outputs if "image/png" in o.get("data", {})]
    assert figures, f"{path.name}: no figure among the stored outputs"
    counts = [c["execution_count"] for c in code]
    assert counts == list(range(1, len(code) + 1)), f"{path.name}: cells were not run in order, top to bottom"
