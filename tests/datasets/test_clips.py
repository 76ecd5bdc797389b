"""Test clips: the original's rule for any clip length, every frame exactly once
(docs/evaluation.md, "Test clips")."""
import pytest

from mmseg.datasets.clips import make_test_clips


def original_clips(num_frames, test_size):
    """The original's cutting for test_size 1, 2 and 4 (custom.py), written from
    docs/evaluation.md: blocks of 6 give (0,3) (1,4) (2,5), blocks of 12 give (0,3,6,9) (1,4,7,10)
    (2,5,8,11), then consecutive chunks; for test_size 1 every frame alone."""
    if test_size == 1:
        return [(i,) for i in range(num_frames)]
    block, offsets = {2: (6, [(0, 3), (1, 4), (2, 5)]),
                      4: (12, [(0, 3, 6, 9), (1, 4, 7, 10), (2, 5, 8, 11)])}[test_size]
    clips = []
    full = num_frames // block
    for b in range(full):
        clips += [tuple(b * block + o for o in offset) for offset in offsets]
    remain = full * block
    while remain < num_frames:
        clips.append(tuple(range(remain, min(remain + test_size, num_frames))))
        remain += test_size
    return clips


def test_spec_examples():
    assert make_test_clips(14, 2) == [(0, 3), (1, 4), (2, 5), (6, 9), (7, 10), (8, 11), (12, 13)]
    assert make_test_clips(14, 4) == [(0, 3, 6, 9), (1, 4, 7, 10), (2, 5, 8, 11), (12, 13)]
    assert make_test_clips(4, 1) == [(0,), (1,), (2,), (3,)]
    assert make_test_clips(5, 4) == [(0, 1, 2, 3), (4,)]  # shorter than a block: all tail


@pytest.mark.parametrize('test_size', range(1, 9))
def test_every_frame_once(test_size):
    for num_frames in range(1, 41):
        clips = make_test_clips(num_frames, test_size)
        frames = sorted(i for clip in clips for i in clip)
        assert frames == list(range(num_frames)), (test_size, num_frames)
        assert all(1 <= len(clip) <= test_size for clip in clips)
        block = test_size * 3
        full_block_clips = [c for c in clips if c[0] < num_frames // block * block]
        assert all(len(c) == test_size and all(b - a == 3 for a, b in zip(c, c[1:]))
                   for c in full_block_clips)


@pytest.mark.parametrize('test_size', [1, 2, 4])
def test_equals_original(test_size):
    for num_frames in range(1, 41):
        assert make_test_clips(num_frames, test_size) == original_clips(num_frames, test_size)


def test_gap_is_configurable():
    assert make_test_clips(8, 2, test_gap=2) == [(0, 2), (1, 3), (4, 6), (5, 7)]
    assert make_test_clips(3, 2, test_gap=1) == [(0, 1), (2,)]


@pytest.mark.parametrize('kwargs', [dict(test_size=0), dict(test_size=-1), dict(test_size=2.0),
                                    dict(test_size='2'), dict(test_size=True),
                                    dict(test_size=2, test_gap=0)])
def test_invalid_values_are_refused(kwargs):
    with pytest.raises(ValueError, match='must be a positive integer'):
        make_test_clips(10, **kwargs)
