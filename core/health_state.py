"""A run's health history as plain data, so that a checkpoint (and a fork) carries it: the
reports so far, the hints said, which kinds were said (a resumed run does not say them again)
and where the step sampling stands, with the samples of the epoch under way (a run resumed
mid-epoch then reports what the straight run would).

Without it a resumed run's health view started empty and its hints came again. The
checkpoint keeps it as one JSON string inside its metadata (``checkpoint.py``): the figures
may hold nan or inf (a blown-up run's), which the metadata's strict JSON refuses. A long run
keeps its first report (the network as initialised) and its latest ``KEPT`` ones, so that the
header stays far below safetensors' limit whatever the epoch count.
"""

from __future__ import annotations

import json
from dataclasses import asdict, fields

from .health_report import BINS, HealthReport, Hint, LayerHealth

KEPT = 500  # reports (and hints) a checkpoint keeps: the heat maps sample fewer rows than that

_LAYER_FIELDS = tuple(f.name for f in fields(LayerHealth))
_HINT_FIELDS = tuple(f.name for f in fields(Hint))


def to_plain(
    reports: list[HealthReport],
    hints: list[Hint],
    seen: set[str],
    next_sample: int,
    pending: list[list[float]],
) -> dict:
    """The monitor's state as lists and numbers (copies: the run goes on)."""
    kept = reports if len(reports) <= KEPT + 1 else [reports[0], *reports[-KEPT:]]
    return {
        "reports": [asdict(r) for r in kept],
        "hints": [asdict(h) for h in hints[-KEPT:]],
        "seen": sorted(seen),
        "next_sample": next_sample,
        "pending": [list(map(float, row)) for row in pending],
    }


def to_text(plain: dict) -> str:
    return json.dumps(plain)


def from_text(text: object) -> dict:
    """A checkpoint's health string back to ``to_plain``'s form, checked (else ValueError)."""
    if not isinstance(text, str):
        raise ValueError("health is not a string")
    try:
        plain = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValueError(f"health is not JSON: {exc.msg}") from None
    check(plain)
    return plain


def check(plain: object) -> None:
    """Raise ValueError, naming what is wrong, unless ``plain`` is ``to_plain``'s form."""
    if not isinstance(plain, dict):
        raise ValueError("health is not an object")
    for key, kind in (("reports", list), ("hints", list), ("seen", list), ("pending", list)):
        if not isinstance(plain.get(key), kind):
            raise ValueError(f"health {key} is not a list")
    if not isinstance(plain.get("next_sample"), int) or plain["next_sample"] < 0:
        raise ValueError("health next_sample is not a count")
    reports(plain)
    hints(plain)
    if not all(isinstance(kind, str) for kind in plain["seen"]):
        raise ValueError("health seen is not a list of names")
    width = None
    for row in plain["pending"]:
        if not isinstance(row, list) or not all(isinstance(x, (int, float)) for x in row):
            raise ValueError("health pending is not rows of numbers")
        if width is not None and len(row) != width:
            raise ValueError("health pending rows differ in length")
        width = len(row)


def reports(plain: dict) -> list[HealthReport]:
    """The reports of ``to_plain``'s form (ValueError where one does not fit)."""
    out = []
    for row in plain["reports"]:
        try:
            layers = tuple(_layer(layer) for layer in row["layers"])
            report = HealthReport(int(row["epoch"]), int(row["step"]), layers, int(row["samples"]))
        except (KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"a health report does not fit ({exc})") from None
        out.append(report)
    return out


def hints(plain: dict) -> list[Hint]:
    out = []
    for row in plain["hints"]:
        if not isinstance(row, dict) or set(row) != set(_HINT_FIELDS):
            raise ValueError("a hint does not fit")
        hint = Hint(**row)
        if not all(isinstance(getattr(hint, f), str) for f in ("kind", "text", "advice")):
            raise ValueError("a hint does not fit")
        out.append(hint)
    return out


def _layer(row: object) -> LayerHealth:
    if not isinstance(row, dict) or set(row) != set(_LAYER_FIELDS):
        raise ValueError("a layer's figures do not fit")
    figures = dict(row)
    for name in ("weights", "activations"):
        counts = figures[name]
        if counts is None and name == "activations":
            continue
        if not isinstance(counts, (list, tuple)) or len(counts) != BINS:
            raise ValueError(f"{name} is not a histogram of {BINS} bins")
        if not all(isinstance(c, int) and c >= 0 for c in counts):
            raise ValueError(f"{name} is not a histogram of counts")
        figures[name] = tuple(counts)
    return LayerHealth(**figures)
