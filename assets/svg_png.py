"""Render a screenshot SVG (Textual's, Rich's) to PNG with rsvg-convert, spaces kept.

    python assets/svg_png.py IN.svg [OUT.png]

Rich writes every space as ``&#160;`` and splits a line into one ``<text>`` per style, so the
space after a bold word (``**759** of 1,000``, ``acc **–**   test acc``) opens the next
element. librsvg (2.54 here) strips a leading U+00A0 as if it were collapsible white space and
``textLength`` then stretches what is left over the cells: the PNG reads ``759of`` and
``acc –test acc`` although the terminal, the SVG in a browser and the app's text all have the
space. Made into real spaces under ``xml:space="preserve"`` they survive; nothing else changes.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

NBSP = "&#160;"


def preserve_spaces(svg: str) -> str:
    """``svg`` with its ``&#160;`` as spaces that every renderer keeps."""
    root = re.search(r"<svg\b", svg)
    if root is None:
        raise ValueError("not an SVG: no <svg> element")
    if "xml:space=" not in svg[root.start() : svg.index(">", root.start())]:
        svg = f'{svg[: root.end()]} xml:space="preserve"{svg[root.end() :]}'
    return svg.replace(NBSP, " ")


def main(argv: list[str]) -> int:
    if not 1 <= len(argv) <= 2:
        print("usage: python assets/svg_png.py IN.svg [OUT.png]", file=sys.stderr)
        return 2
    source = Path(argv[0])
    target = Path(argv[1]) if len(argv) == 2 else source.with_suffix(".png")
    if shutil.which("rsvg-convert") is None:
        print("svg_png: rsvg-convert is not installed (apt install librsvg2-bin)", file=sys.stderr)
        return 1
    try:
        svg = preserve_spaces(source.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        print(f"svg_png: cannot read {source}: {exc}", file=sys.stderr)
        return 1
    done = subprocess.run(["rsvg-convert", "-o", str(target)], input=svg.encode(), check=False)
    return done.returncode


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
