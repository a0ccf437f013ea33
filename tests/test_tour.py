"""docs/tour.md runs: every ```python block, in order, in one namespace (as a reader runs them in
one session); where a ```text block follows, the block must print exactly that."""
import contextlib
import io
import re
from pathlib import Path

import pytest

TOUR = Path(__file__).resolve().parents[1] / "docs" / "tour.md"
BLOCK = re.compile(r"^```(\w+)\n(.*?)^```\s*$", re.S | re.M)


def tour_blocks():
    """[(code, expected output or None, line number)] in the order of the page."""
    blocks = [(m.group(1), m.group(2), TOUR.read_text(encoding="utf-8").count("\n", 0, m.start()) + 1)
              for m in BLOCK.finditer(TOUR.read_text(encoding="utf-8"))]
    out = []
    for i, (lang, body, line) in enumerate(blocks):
        if lang == "python":
            follows = blocks[i + 1] if i + 1 < len(blocks) else None
            out.append((body, follows[1] if follows and follows[0] == "text" else None, line))
    return out


def test_the_tour_has_its_stops():
    text = TOUR.read_text(encoding="utf-8")
    stops = re.findall(r"^## \d+\. ", text, re.M)
    assert len(stops) >= 10
    for section in re.split(r"^## \d+\. ", text, flags=re.M)[1:]:  # every stop names a file and runs code
        assert re.search(r"`scratchgan/[\w/]+\.py`", section) and "```python" in section


def test_every_block_of_the_tour_runs_and_prints_what_the_page_says(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)  # a block that writes files writes them here
    namespace = {"__name__": "__tour__"}
    blocks = tour_blocks()
    assert len(blocks) >= 11
    for code, expected, line in blocks:
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            try:
                exec(compile(code, f"docs/tour.md:{line}", "exec"), namespace)  # noqa: S102
            except Exception as e:  # name the block that broke
                pytest.fail(f"the tour's block at line {line} raised {type(e).__name__}: {e}")
        if expected is not None:
            assert out.getvalue() == expected, f"the tour's block at line {line} printed:\n{out.getvalue()}"
