"""How a test video is cut into clips (docs/evaluation.md, "Test clips")."""
from typing import List, Tuple

__all__ = ['check_positive_int', 'make_test_clips']


def check_positive_int(name: str, value: object) -> int:
    """Return ``value`` if it is an int >= 1, else raise a ``ValueError`` that names ``name``."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f'{name} must be a positive integer, got {value!r}')
    return value


def make_test_clips(num_frames: int, test_size: int, test_gap: int = 3) -> List[Tuple[int, ...]]:
    """Frame indices of the test clips of one video with ``num_frames`` frames.

    Full blocks of ``test_size * test_gap`` frames each give ``test_gap`` interleaved clips: in the
    block starting at ``s``, clip ``j`` is ``(s+j, s+j+gap, ..., s+j+(test_size-1)*gap)``. The
    frames after the last full block go in consecutive chunks of ``test_size`` (the last may be
    shorter); a video shorter than one block is all such chunks. Every frame is in exactly one clip.

    Example: ``make_test_clips(14, 2)`` is ``[(0, 3), (1, 4), (2, 5), (6, 9), (7, 10), (8, 11),
    (12, 13)]``.
    """
    check_positive_int('test_size', test_size)
    check_positive_int('test_gap', test_gap)
    if isinstance(num_frames, bool) or not isinstance(num_frames, int) or num_frames < 0:
        raise ValueError(f'num_frames must be a non-negative integer, got {num_frames!r}')
    block = test_size * test_gap
    full_blocks = num_frames // block
    clips = []
    for start in range(0, full_blocks * block, block):
        for offset in range(test_gap):
            clips.append(tuple(start + offset + i * test_gap for i in range(test_size)))
    for start in range(full_blocks * block, num_frames, test_size):
        clips.append(tuple(range(start, min(start + test_size, num_frames))))
    return clips
