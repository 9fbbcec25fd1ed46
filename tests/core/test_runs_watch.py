"""RunsWatch, the runs screen's poll: nothing read when nothing was committed; when something
was, only the runs that may have changed are read again, and the result is every run as a
full re-read would give it."""

from __future__ import annotations

from mlp_tui.core.config import TrainConfig
from mlp_tui.core.runs_watch import RunsWatch
from mlp_tui.core.store import EPOCH_FIELDS, RunStore


def add_epoch(store: RunStore, run: int, epoch: int) -> None:
    with store.transaction() as db:
        db.execute(
            f"INSERT INTO epochs (run, epoch, {', '.join(EPOCH_FIELDS)})"
            f" VALUES (?, ?{', ?' * len(EPOCH_FIELDS)})",
            (run, epoch, 0.5, 0.8, 0.7 + epoch / 100, 0.1, 1.0, 100.0),
        )


def test_a_poll_reads_only_what_may_have_changed_and_matches_a_full_read(tmp_path):
    path = tmp_path / "runs.sqlite"
    app, headless = RunStore(path), RunStore(path)  # two connections: the app, another process
    done = [app.create_run(TrainConfig(lr=lr), status="finished") for lr in (0.1, 0.2, 0.3)]
    live = app.create_run(TrainConfig(lr=0.5), status="running")
    watch = RunsWatch(app)
    asked: list[list[int] | None] = []
    runs = app.runs
    app.runs = lambda ids=None, **kw: asked.append(ids and list(ids)) or runs(ids, **kw)

    assert [s.id for s in watch.poll()] == [*done, live]  # the first poll: every run
    assert watch.poll() is None and watch.poll() is None  # nothing committed: nothing read
    asked.clear()

    add_epoch(headless, live, 1)  # another process's commit
    polled = watch.poll()
    assert asked == [[live]] and polled == runs()  # the running run alone, read again
    assert polled[-1].epochs == 1

    app.rename(done[0], "renamed")  # this connection's own commit
    headless.delete([done[1]])
    new = headless.create_run(TrainConfig(lr=0.7), status="running")
    asked.clear()
    polled = watch.poll()
    assert asked == [[done[0], live, new]] and polled == runs()
    assert [s.name for s in polled][:1] == ["renamed"] and done[1] not in [s.id for s in polled]

    with headless.transaction() as db:  # committed, but nothing the table shows
        db.execute("INSERT INTO losses (run, step, loss) VALUES (?, 1, 2.3)", (live,))
    assert watch.poll() is None


def test_a_run_deleted_between_the_two_reads_is_gone(tmp_path):
    store = RunStore(tmp_path / "runs.sqlite")
    first = store.create_run(TrainConfig(), status="running")
    second = store.create_run(TrainConfig(lr=0.2), status="running")
    watch = RunsWatch(store)
    watch.poll()
    add_epoch(store, first, 1)
    heads = store.heads

    def heads_then_delete():
        seen = heads()
        store.delete([second])  # as if another process deleted it just then
        return seen

    store.heads = heads_then_delete
    assert [s.id for s in watch.poll()] == [first]
