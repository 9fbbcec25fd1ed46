"""Past runs drawn behind the current one: the run a restart replaced, and the runs chosen on
the runs screen (read from the store). At most MAX_GHOSTS, each in a colour of its own."""

from __future__ import annotations

import math
from collections.abc import Sequence

from mlp_tui.core.events import EpochReport
from mlp_tui.core.store import EPOCH_FIELDS, RunRecord

from .run_view import RunView
from .widgets.plot_marks import GHOST_COLOURS, MAX_GHOSTS, Ghost


def with_run(ghosts: Sequence[Ghost], run: RunView) -> list[Ghost]:
    """``ghosts`` with ``run`` in front, in a colour none of the others has; the oldest goes
    past MAX_GHOSTS, and an older ghost of the same stored run gives way to it."""
    if not run.losses and not run.history:
        return list(ghosts)
    kept = [g for g in ghosts if run.run_id is None or g.run_id != run.run_id]
    kept = kept[: MAX_GHOSTS - 1]
    used = {g.colour for g in kept}
    colour = next(c for c in GHOST_COLOURS if c not in used)
    ghost = Ghost(run.name, tuple(run.losses), tuple(run.history), colour, run_id=run.run_id)
    return [ghost, *kept]


def of_records(records: Sequence[RunRecord]) -> list[Ghost]:
    """The first MAX_GHOSTS of ``records`` as ghosts, named by id and name, in the palette's
    order. A point or figure the store kept as null (a loss that was not a number) is left
    out of the curve."""
    ghosts = []
    for record, colour in zip(records[:MAX_GHOSTS], GHOST_COLOURS):
        s = record.summary
        points = [(step, loss) for step, loss in record.losses if loss is not None]
        history = tuple(
            EpochReport(row["epoch"], *(_number(row[name]) for name in EPOCH_FIELDS))
            for row in record.epochs
        )
        ghosts.append(
            Ghost(
                f"{s.short_id} {s.name}",
                tuple(loss for _, loss in points),
                history,
                colour,
                steps=tuple(step for step, _ in points),
                run_id=s.id,
            )
        )
    return ghosts


def _number(value: object) -> float:
    return math.nan if value is None else float(value)  # type: ignore[arg-type]
