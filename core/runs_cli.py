"""``mlp-tui runs``: the run store from the command line (list, show, compare, export, rm)."""

from __future__ import annotations

import argparse
import csv
import io
import json
import sys
from collections.abc import Callable, Sequence
from dataclasses import asdict, replace
from pathlib import Path

from .config import FIELDS, described_fields, show_stored
from .health_report import Hint
from .parsing import EXIT_FAILED, EXIT_OK, EXIT_USAGE, OneLineParser
from .store import (
    EPOCH_FIELDS,
    VAL_FIELDS,
    RunRecord,
    RunStore,
    RunSummary,
    StoreError,
    default_path,
    event_text,
    parse_id,
    short_id,
)

COLUMNS = ("id", "name", "status", "epochs", "best acc", "final acc", "final loss", "time")
VAL_COLUMNS = ("best val", "final val")  # after "final acc", where a run has a validation set


def build_parser() -> argparse.ArgumentParser:
    store_flag = OneLineParser(add_help=False)
    store_flag.add_argument(
        "--store",
        metavar="PATH",
        default=argparse.SUPPRESS,
        help=f"the run store (default: ${'MLP_TUI_STORE'}, else runs.sqlite in the data dir)",
    )
    parser = OneLineParser(
        prog="mlp-tui runs",
        description="The runs mlp-tui has recorded: every run of the app and of --headless.",
        parents=[store_flag],
    )
    parser.add_argument("--json", action="store_true", help="print a JSON list of the runs")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    show = sub.add_parser("show", help="one run: config, epochs, events", parents=[store_flag])
    show.add_argument("id")
    show.add_argument("--json", action="store_true")
    compare = sub.add_parser("compare", help="runs side by side", parents=[store_flag])
    compare.add_argument("ids", nargs="+", metavar="ID")
    compare.add_argument("--json", action="store_true")
    export = sub.add_parser(
        "export",
        help="a metrics CSV per run and runs.csv, or TensorBoard event files",
        parents=[store_flag],
    )
    export.add_argument("ids_and_dir", nargs="+", metavar="ID... DIR")
    export.add_argument(
        "--format",
        choices=("csv", "tensorboard"),
        default="csv",
        help="tensorboard: a folder of event files per run (needs the tensorboard package)",
    )
    rm = sub.add_parser("rm", help="delete runs from the store", parents=[store_flag])
    rm.add_argument("ids", nargs="+", metavar="ID")
    rename = sub.add_parser("rename", help="give a run a name", parents=[store_flag])
    rename.add_argument("id")
    rename.add_argument("name")
    return parser


def main(argv: Sequence[str]) -> int:
    parser = build_parser()
    args = parser.parse_args(list(argv))
    path = Path(args.store).expanduser() if "store" in args else default_path()
    try:
        ids = _ids(args)
        writes = args.command in ("rm", "rename")
        if not path.exists() and not writes:
            return _empty(args, path)
        with RunStore(path, readonly=not writes) as store:
            return _command(args, store, ids)
    except StoreError as exc:
        print(f"mlp-tui: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except OSError as exc:
        print(f"mlp-tui: {exc.filename}: {exc.strerror}", file=sys.stderr)
        return EXIT_FAILED


def _ids(args: argparse.Namespace) -> list[int]:
    if args.command in ("show", "rename"):
        return [parse_id(args.id)]
    if args.command in ("compare", "rm"):
        return [parse_id(text) for text in args.ids]
    if args.command == "export":
        if len(args.ids_and_dir) < 2:
            raise StoreError("runs export: name one run or more, then the folder")
        ids = [parse_id(text) for text in args.ids_and_dir[:-1]]
        if args.format == "tensorboard":
            from .tensorboard_export import check_available

            check_available()  # before the store is read or anything written
        return ids
    return []


def _empty(args: argparse.Namespace, path: Path) -> int:
    if args.command is None:
        print("[]" if args.json else f"no runs yet ({path} does not exist)")
        return EXIT_OK
    raise StoreError(f"no run {', '.join(map(short_id, _ids(args)))}: {path} does not exist")


def as_now(store: RunStore, records: list[RunRecord]) -> list[RunRecord]:
    """Runs still ``running`` or ``paused`` whose process on this machine is gone, shown as
    ``interrupted`` (as the next run's ``mark_interrupted`` will write them): a listing
    writes nothing."""
    stale = set(store.stale())
    return [replace(r, summary=_as_now(r.summary, stale)) for r in records]


def _as_now(summary: RunSummary, stale: set[int]) -> RunSummary:
    return replace(summary, status="interrupted") if summary.id in stale else summary


def _command(args: argparse.Namespace, store: RunStore, ids: list[int]) -> int:
    command = args.command
    if command is None:
        if args.json:
            records = as_now(store, store.records(losses=False))
            print(json.dumps([r.as_dict() for r in records], allow_nan=False))
        else:
            stale = set(store.stale())
            print(table([_as_now(s, stale) for s in store.runs()]))
    elif command == "show":
        (record,), hints = as_now(store, [store.run(ids[0])]), store.hints(ids[0])
        if args.json:
            shown = {**record.as_dict(), "hints": [asdict(h) for h in hints]}
            print(json.dumps(shown, indent=2))
        else:
            print(describe(record, hints))
    elif command == "compare":
        records = as_now(store, store.records(ids, losses=False))
        if args.json:
            print(json.dumps([r.as_dict() for r in records]))
        else:
            print(comparison(records))
    elif command == "export":
        folder = Path(args.ids_and_dir[-1]).expanduser()
        if args.format == "tensorboard":
            from .tensorboard_export import export_tensorboard

            written = export_tensorboard(store.records(ids), folder)
            print(f"exported {', '.join(p.name for p in written)} to {folder}"
                  f" (open them with: tensorboard --logdir {folder})")  # fmt: skip
        else:
            written = export_csv(store.records(ids, losses=False), folder)
            print(f"exported {', '.join(p.name for p in written)} to {folder}")
    elif command == "rm":
        store.delete(ids)
        print(f"deleted {', '.join(map(short_id, ids))}")
    elif command == "rename":
        store.rename(ids[0], args.name)
        print(f"{short_id(ids[0])} is now {args.name!r}")
    return EXIT_OK


# ---------------------------------------------------------------------- what is printed
def differing(summaries: Sequence[RunSummary]) -> list[str]:
    """The hyperparameters whose values differ between these runs, in the config's order."""
    if len(summaries) < 2:
        return []
    first = summaries[0].config

    def same(a: object, b: object) -> bool:  # 1 and 1.0 differ, as typed
        return type(a) is type(b) and a == b

    names = described_fields([s.config.get("layers") for s in summaries])
    return [
        name
        for name in names
        if not all(same(s.config.get(name), first.get(name)) for s in summaries)
    ]


def _csv_value(value: object) -> object:
    return show_stored(value) if isinstance(value, list) else value


def _cell(value: object) -> str:
    return "-" if value is None else show_stored(value)


def _clock(seconds: float) -> str:
    minutes, secs = divmod(int(round(seconds)), 60)
    return f"{minutes}:{secs:02d}"


def columns(summaries: Sequence[RunSummary]) -> tuple[str, ...]:
    """The summary columns for these runs: the validation ones only where a run has them."""
    if not any(s.best_val_acc is not None for s in summaries):
        return COLUMNS
    at = COLUMNS.index("final acc") + 1
    return (*COLUMNS[:at], *VAL_COLUMNS, *COLUMNS[at:])


def summary_row(s: RunSummary, fields: Sequence[str], val: bool = False) -> list[str]:
    """One run's cells under ``columns`` (``val``: with the validation columns)."""
    figures = (s.best_test_acc, s.final_test_acc, *((s.best_val_acc, s.final_val_acc) * val))
    acc = [None if a is None else f"{a:.4f}" for a in figures]
    loss = None if s.final_train_loss is None else f"{s.final_train_loss:.4f}"
    row = [s.short_id, s.name, s.status, str(s.epochs), *map(_cell, acc), _cell(loss)]
    return [*row, _clock(s.seconds), *(_cell(s.config.get(f)) for f in fields)]


def epoch_fields(records: Sequence[RunRecord]) -> tuple[str, ...]:
    """The per-epoch figures these runs have: the validation ones only where they exist."""
    has_val = any(e.get("val_acc") is not None for r in records for e in r.epochs)
    return (*EPOCH_FIELDS, *VAL_FIELDS) if has_val else EPOCH_FIELDS


def grid(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    widths = [max(len(str(c)) for c in column) for column in zip(header, *rows)]
    lines = [header, *rows]
    return "\n".join(
        "  ".join(str(c).ljust(w) for c, w in zip(line, widths)).rstrip() for line in lines
    )


def table(summaries: Sequence[RunSummary]) -> str:
    if not summaries:
        return "no runs yet"
    fields, names = differing(summaries), columns(summaries)
    header = [*names, *(f.replace("_", " ") for f in fields)]
    val = names != COLUMNS
    rows = [summary_row(s, fields, val) for s in summaries]
    if any(s.sweep for s in summaries):  # the sweep a run is a member of (mlp-tui sweep)
        header.append("sweep")
        rows = [[*row, s.sweep or "-"] for row, s in zip(rows, summaries)]
    return grid(header, rows)


def describe(record: RunRecord, hints: Sequence[Hint] = ()) -> str:
    s = record.summary
    parent = (
        "" if s.parent is None else f", forked from {short_id(s.parent)} at batch {s.fork_step}"
    )
    lines = [f"{s.short_id} {s.name!r}: {s.status}, {s.epochs} epochs{parent}"]
    lines.append("config: " + ", ".join(f"{k} {_cell(v)}" for k, v in s.config.items()))
    if s.checkpoint:
        lines.append(f"checkpoint: {s.checkpoint}")
    if record.epochs:
        figures = epoch_fields([record])
        header = ["epoch", *figures]
        rows = [
            [str(e["epoch"]), *(_cell(_round(e.get(f))) for f in figures)] for e in record.epochs
        ]
        lines += ["", grid(header, rows)]
    if record.events:
        lines += ["", "events:"]
        lines += [f"  batch {e['step']}: {event_text(e)}" for e in record.events]
    if hints:  # the training-health hints (health_report.py)
        lines += ["", "hints:"]
        lines += [f"  epoch {h.epoch}: {h.line}" for h in hints]
    return "\n".join(lines)


def _round(value: float | None) -> float | None:
    """Four decimals, but four significant digits below 1: an lr of 4.01e-05 is not 0."""
    if value is None:
        return None
    return float(f"{value:.4g}") if abs(value) < 1 else round(value, 4)


def comparison_rows(records: Sequence[RunRecord]) -> tuple[list[str], list[list[str]]]:
    """The comparison as a header (the runs' ids) and rows: name, the differing settings, the
    best / final / min figures, epochs and status (the app's comparison table shows the same)."""
    summaries = [r.summary for r in records]
    fields = differing(summaries) or ["lr"]
    header = ["", *(s.short_id for s in summaries)]
    rows = [["name", *(s.name for s in summaries)]]
    rows += [[f.replace("_", " "), *(_cell(s.config.get(f)) for s in summaries)] for f in fields]
    metrics: list[tuple[str, Callable[[RunRecord], float | None]]] = [
        ("best test acc", lambda r: max((e["test_acc"] for e in r.epochs), default=None)),
        ("final test acc", lambda r: r.epochs[-1]["test_acc"] if r.epochs else None),
    ]
    if any(e.get("val_acc") is not None for r in records for e in r.epochs):
        # choose by validation, then read the test set once: the test accuracy of the epoch
        # with the best validation accuracy is the honest figure, not the best test accuracy
        metrics += [
            ("best val acc", lambda r: _best_val(r)[0]),
            ("test acc there", lambda r: _best_val(r)[1]),
            ("final val acc", lambda r: r.epochs[-1].get("val_acc") if r.epochs else None),
        ]
    metrics += [
        ("final train acc", lambda r: r.epochs[-1]["train_acc"] if r.epochs else None),
        ("final train loss", lambda r: r.epochs[-1]["train_loss"] if r.epochs else None),
        ("min train loss", lambda r: min((e["train_loss"] for e in r.epochs), default=None)),
    ]
    for metric, pick in metrics:
        rows.append([metric, *(_cell(_round(pick(r))) for r in records)])
    rows.append(["epochs", *(str(s.epochs) for s in summaries)])
    rows.append(["status", *(s.status for s in summaries)])
    return header, rows


def _best_val(record: RunRecord) -> tuple[float | None, float | None]:
    """The best validation accuracy and the test accuracy of that epoch (the first, on a tie)."""
    scored = [e for e in record.epochs if e.get("val_acc") is not None]
    if not scored:
        return None, None
    best = max(scored, key=lambda e: e["val_acc"])
    return best["val_acc"], best["test_acc"]


def comparison(records: Sequence[RunRecord]) -> str:
    return grid(*comparison_rows(records))


def export_csv(records: Sequence[RunRecord], folder: Path) -> list[Path]:
    """One metrics CSV per run (``r3.csv``) and ``runs.csv``: configs and summaries."""
    from .checkpoint import CheckpointError
    from .checkpoint import write_atomic as write

    def write_atomic(path: Path, payload: bytes) -> Path:
        try:
            return write(path, payload)
        except CheckpointError as exc:  # the message says which file and why
            raise StoreError(str(exc).replace("cannot save", "cannot export", 1)) from None

    written = []
    for record in records:
        out = io.StringIO()
        writer = csv.writer(out)
        figures = epoch_fields([record])
        writer.writerow(["epoch", *figures])
        for e in record.epochs:
            writer.writerow([e["epoch"], *(e.get(f) for f in figures)])
        path = folder / f"{record.summary.short_id}.csv"
        written.append(write_atomic(path, out.getvalue().encode()))
    out = io.StringIO()
    writer = csv.writer(out)
    names = list(FIELDS)  # every field, hidden and layers alike: a file for other tools
    writer.writerow(["id", "name", "status", "parent", "epochs", "best_test_acc",
                     "final_test_acc", "final_train_loss", "seconds", "best_val_acc",
                     "final_val_acc", *names])  # fmt: skip
    for r in records:
        s = r.summary
        parent = None if s.parent is None else short_id(s.parent)
        writer.writerow([s.short_id, s.name, s.status, parent, s.epochs, s.best_test_acc,
                         s.final_test_acc, s.final_train_loss, s.seconds, s.best_val_acc,
                         s.final_val_acc,
                         *(_csv_value(s.config.get(n)) for n in names)])  # fmt: skip
    written.append(write_atomic(folder / "runs.csv", out.getvalue().encode()))
    return written
