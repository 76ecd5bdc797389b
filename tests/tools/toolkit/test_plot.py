import math

import pytest

from toolkit.plot import PALETTE, line_chart, nice_ticks, stack_vertically


def test_nice_ticks_by_hand():
    assert nice_ticks(0, 1) == pytest.approx([0, 0.2, 0.4, 0.6, 0.8, 1.0])
    assert nice_ticks(3, 97) == [0, 20, 40, 60, 80, 100]
    flat = nice_ticks(0.5, 0.5)
    assert flat[0] < 0.5 < flat[-1] and 0.5 == pytest.approx(flat[len(flat) // 2])


def test_chart_draws_each_series_in_its_colour_and_stacks():
    chart = line_chart([('a', [0, 10], [1.0, 2.0]), ('b', [0, 5, 10], [2.0, math.nan, 1.0])],
                       size=(300, 200), title='loss')
    assert chart.size == (300, 200)
    colours = {pixel for _, pixel in chart.getcolors(300 * 200)}
    assert PALETTE[0] in colours and PALETTE[1] in colours
    assert stack_vertically([chart, chart]).size == (300, 400)
    with pytest.raises(ValueError, match='no finite values'):
        line_chart([('a', [0], [math.nan])])
