import pytest
import torch

from mmseg.models.losses import point_sample, uncertain_point_coords


def test_point_sample_is_bilinear_over_pixel_edges_with_zero_padding():
    values = torch.tensor([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])[None, None]  # h=2, w=3
    coords = torch.tensor([[[0.5 / 3, 0.25],        # centre of pixel (0, 0)
                            [2.5 / 3, 0.75],        # centre of pixel (1, 2)
                            [1.0 / 3, 0.25],        # between (0, 0) and (0, 1)
                            [1.5 / 3, 0.5],         # between rows, centre column
                            [0.0, 0.0]]])           # image corner: a quarter of pixel (0, 0)
    expected = torch.tensor([1.0, 6.0, 1.5, 3.5, 0.25])
    torch.testing.assert_close(point_sample(values, coords)[0, 0], expected)


def test_uncertain_point_coords_takes_the_smallest_abs_logits_then_uniform_points():
    logits = torch.tensor([[-3.0, 0.1], [2.0, -0.5]])[None, None]
    centres = torch.tensor([[0.25, 0.25], [0.75, 0.25], [0.25, 0.75], [0.75, 0.75]])
    uniform = torch.tensor([[[0.9, 0.1], [0.2, 0.3]]])
    calls = []

    def rand(*size, dtype=None, device=None):
        calls.append(size)
        return centres[None] if len(calls) == 1 else uniform

    coords = uncertain_point_coords(logits, num_points=4, oversample_ratio=1.0,
                                    importance_sample_ratio=0.5, rand=rand)
    assert calls == [(1, 4, 2), (1, 2, 2)]
    # |logit| 0.1 at (x=0.75, y=0.25), then 0.5 at (0.75, 0.75); then the uniform draw.
    expected = torch.tensor([[[0.75, 0.25], [0.75, 0.75], [0.9, 0.1], [0.2, 0.3]]])
    torch.testing.assert_close(coords, expected)


def test_uncertain_point_coords_counts_and_no_second_draw_without_random_points():
    calls = []

    def rand(*size, dtype=None, device=None):
        calls.append(size)
        return torch.rand(*size)

    coords = uncertain_point_coords(torch.randn(3, 1, 4, 4), num_points=10, oversample_ratio=3.0,
                                    importance_sample_ratio=0.75, rand=rand)
    assert coords.shape == (3, 10, 2) and calls == [(3, 30, 2), (3, 3, 2)]
    calls.clear()
    coords = uncertain_point_coords(torch.randn(2, 1, 4, 4), num_points=5, oversample_ratio=2.0,
                                    importance_sample_ratio=1.0, rand=rand)
    assert coords.shape == (2, 5, 2) and calls == [(2, 10, 2)]


@pytest.mark.parametrize('num_masks', [0, 2])
def test_uncertain_point_coords_with_zero_masks(num_masks):
    coords = uncertain_point_coords(torch.randn(num_masks, 1, 3, 3), num_points=8,
                                    oversample_ratio=3.0, importance_sample_ratio=0.75,
                                    rand=torch.rand)
    assert coords.shape == (num_masks, 8, 2)
