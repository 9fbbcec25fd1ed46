import torch
from mlp_tui.tui.render import RAMP, image_size, render_image


def test_ascii_is_plain_text_with_the_ramp_extremes():
    img = torch.zeros(28, 28, dtype=torch.uint8)
    img[:, 14:] = 255
    text = render_image(img, "ascii")
    lines = text.plain.split("\n")
    assert (len(lines[0]), len(lines)) == image_size("ascii")
    assert lines[0] == RAMP[0] * 14 + RAMP[-1] * 14
    assert set(text.plain) <= set(RAMP + "\n")


def test_blocks_carry_two_pixel_rows_per_cell_as_colours():
    img = torch.zeros(28, 28, dtype=torch.uint8)
    img[0, 0] = 255  # top pixel of the first cell white, bottom black
    text = render_image(img, "blocks")
    assert text.plain.split("\n")[0] == "▀" * 28
    first = next(span.style for span in text.spans if span.start == 0)
    assert first.color.triplet == (255, 255, 255)
    assert first.bgcolor.triplet == (0, 0, 0)


def test_scale_halves_the_size():
    img = torch.full((28, 28), 128, dtype=torch.uint8)
    lines = render_image(img, "ascii", scale=2).plain.split("\n")
    assert (len(lines[0]), len(lines)) == (14, 7)


def test_a_confidence_never_reads_100_percent_when_it_is_not():
    from mlp_tui.tui.render import confidence
    from mlp_tui.tui.widgets.gallery import caption

    assert confidence(0.91) == "91%" and confidence(0.893, 1) == "89.3%"
    assert confidence(0.998) == "99.8%"  # not "100%"
    assert confidence(0.99996) == ">99.9%" and confidence(1.0, 1) == ">99.9%"
    assert caption(0, 3, 0.998) == ("t-shirt ->", "dress 99.8%")
    assert caption(7, 9, 0.99996, width=16) == ("sneaker ->", "ankle boot >99%")  # fits whole


def test_the_inspectors_cards_and_bars_never_read_100_percent_either():
    """The gallery's captions were fixed first; the explorer's cards, its detail bars and the
    big image's bars printed 99.8% as 100% and 99.96% as 100.0% (#19 item 8)."""
    from mlp_tui.tui.widgets.class_bars import ClassBars
    from mlp_tui.tui.widgets.probability_bars import probability_bars

    probs = [0.0] * 10
    probs[3], probs[0] = 0.9996, 0.0004
    text = probability_bars(probs, true=0, predicted=3, width=10).plain
    assert ">99.9%" in text and "100" not in text
    drawn = ClassBars(torch.tensor(probs), 0).render().plain
    assert ">99.9%" in drawn and "100" not in drawn
