"""The misclassified gallery: browsing, pages, the large view with probabilities, render modes."""

from __future__ import annotations

from mlp_tui.core.data import CLASS_NAMES
from mlp_tui.tui.render import RAMP
from mlp_tui.tui.screens.image import ImageScreen
from mlp_tui.tui.widgets.class_bars import ClassBars
from mlp_tui.tui.widgets.gallery import MisclassifiedGallery
from textual.widgets import Label, Static

from .conftest import script, wait_until
from .test_inspect import shown as screen_text


def shown(gallery: MisclassifiedGallery) -> str:
    return gallery.text()


async def test_arrows_and_pages_browse_every_misclassified_image(make_trainer, make_app):
    trainer = script(make_trainer(), epochs_done=3, batch=4)
    app = make_app(trainer, train=False)
    async with app.run_test(size=(120, 40)) as pilot:
        gallery = app.main.gallery
        wrong = trainer.predictions.misclassified().tolist()
        assert gallery.wrong == wrong and len(wrong) > 2 * gallery.per_page
        assert f"Misclassified {len(wrong)} of 200 test images" in shown(gallery)
        cols, _ = gallery.grid
        await pilot.press("right")
        assert gallery.cursor == 1 and "#2 " in shown(gallery)
        await pilot.press("down")
        assert gallery.cursor == 1 + cols
        await pilot.press("left", "up", "left")
        assert gallery.cursor == 0  # stops at the first image
        await pilot.press("pagedown", "pagedown")
        assert gallery.page == 2 and gallery.cursor == 2 * gallery.per_page
        assert f"page 3/{gallery.pages}" in shown(gallery)
        await pilot.press("pageup")
        assert gallery.page == 1
        await pilot.press(*["pagedown"] * (gallery.pages + 2))
        assert gallery.page == gallery.pages - 1  # stops at the last page
        index = wrong[gallery.cursor]
        true, predicted = (
            int(trainer.predictions.labels[index]),
            int(trainer.predictions.predicted[index]),
        )
        assert f"{CLASS_NAMES[true]} ->" in shown(gallery)
        assert CLASS_NAMES[predicted] in shown(gallery)


async def test_enter_shows_the_image_large_with_ten_probabilities(make_trainer, make_app):
    trainer = script(make_trainer(), epochs_done=3)
    app = make_app(trainer, train=False)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("right", "enter")
        screen = app.screen
        assert isinstance(screen, ImageScreen)
        index = app.main.gallery.wrong[1]
        probs = trainer.predictions.probs[index]
        title = str(screen.query_one("#image-title", Label).content)
        true, predicted = int(trainer.predictions.labels[index]), int(probs.argmax())
        assert f"#{index}" in title
        assert f"{CLASS_NAMES[true]} -> {CLASS_NAMES[predicted]}" in title
        bars = str(screen.query_one(ClassBars).render())
        assert all(name in bars for name in CLASS_NAMES)
        assert f"{float(probs[predicted]):6.1%}" in bars
        big = str(screen.query_one("#big-image", Static).content)
        assert len(big.split("\n")) == 28  # zoomed twice at 120x40: 56 pixel rows in 28 lines
        await pilot.press("right")
        assert screen.index == app.main.gallery.wrong[2]
        await pilot.press("right", "escape")
        assert not isinstance(app.screen, ImageScreen)
        await pilot.pause()
        assert app.main.gallery.cursor == 3  # the gallery is on the image shown last
        await pilot.press("enter", "left", "left", "enter")  # enter closes too
        await pilot.pause()
        assert app.main.gallery.cursor == 1


async def test_g_switches_images_between_blocks_and_ascii(make_trainer, make_app):
    trainer = script(make_trainer(), epochs_done=3)
    app = make_app(trainer, train=False)
    async with app.run_test(size=(120, 40)) as pilot:
        assert "▀" in shown(app.main.gallery)
        await pilot.press("g")
        assert app.main.gallery.mode == "ascii" and "▀" not in shown(app.main.gallery)
        tiles = shown(app.main.gallery).split("\n")[1:8]  # the first row of images
        assert set("".join(tiles)) <= set(RAMP)
        await pilot.press("enter", "g")  # works in the large view too
        assert "▀" in str(app.screen.query_one("#big-image", Static).content)
        await pilot.press("g")
        big = str(app.screen.query_one("#big-image", Static).content)
        assert "▀" not in big and set(big) <= set(RAMP + "\n")
        assert "#" in str(app.screen.query_one(ClassBars).render())  # ASCII bars too


async def test_gallery_before_the_first_evaluation_says_when_images_come(make_app):
    app = make_app(paused=True)
    async with app.run_test() as pilot:
        await wait_until(pilot, lambda: app.trainer.state.value == "paused")
        assert "after the first epoch" in shown(app.main.gallery)
        await pilot.press("enter")
        assert not isinstance(app.screen, ImageScreen)  # nothing to show yet


async def test_at_80x24_the_gallery_header_is_whole(make_trainer, make_app):
    """The long header was cut ('Misclassified 37 of 200 test images ·…'): a shorter form
    that fits says the count, the epoch, the image and the page, in the gallery's top border
    (its row goes to the plots)."""
    app = make_app(script(make_trainer(), epochs_done=3), train=False)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        gallery = app.main.gallery
        x, y, width, _ = gallery.region
        border = screen_text(app).splitlines()[y][x : x + width]
        title = f"{len(gallery.wrong)}/200 wrong · epoch 3 · #1 · p1/{gallery.pages}"
        assert f" {title} " in border and "…" not in border
        assert "▀" in shown(gallery).split("\n")[0]  # the cards start on the first line


def test_the_shortest_header_keeps_the_image_and_the_page(make_trainer, make_app):
    """On the full test set the count form ('1775/10000 wrong · epoch 2 · #1 · p1/222') is
    too long for an 80-column gallery's border: the total goes first."""
    gallery = MisclassifiedGallery()
    gallery.predictions = script(make_trainer(), epochs_done=3).predict()
    gallery.indices = list(range(1775))
    assert gallery.header(36) == "1775 wrong · epoch 3 · #1 · p1/1775"
