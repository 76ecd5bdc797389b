import itertools
import logging

import numpy as np
import pytest
import torch

from mmseg.models.losses import MaskTargets, TwoRoundHungarianMatcher, clip_targets


def _matcher(second_round_cost='full', num_points=64):
    return TwoRoundHungarianMatcher(class_weight=2.0, mask_weight=5.0, dice_weight=5.0,
                                    num_points=num_points, second_round_cost=second_round_cost)


def _fixed_rand(seed):
    generator = torch.Generator().manual_seed(seed)
    return lambda *size, dtype=None, device=None: torch.rand(*size, generator=generator)


def _brute_force(cost, rows):
    """The smallest total over all assignments using only ``rows`` and each row or column once;
    as many pairs as possible."""
    cols = range(cost.shape[1])
    size = min(len(rows), len(cols))
    best = np.inf
    for chosen_rows in itertools.permutations(rows, size):
        for chosen_cols in itertools.combinations(cols, size):
            best = min(best, sum(cost[r, c] for r, c in zip(chosen_rows, chosen_cols)))
    return best


def _random_case(generator, num_queries, num_targets, frames=2):
    logits = torch.randn(1, num_queries, 6, generator=generator) * 2
    masks = torch.randn(1, num_queries, frames, 4, 5, generator=generator) * 3
    labels = torch.randperm(5, generator=generator)[:num_targets].sort().values
    target_masks = (torch.rand(num_targets, frames, 8, 10, generator=generator) > 0.5).float()
    return logits, masks, MaskTargets(labels=labels, masks=target_masks)


def test_golden_matcher(golden):
    """The ``matcher`` entry of themask_tiny_golden.pt: pairs exact, C within 1e-5."""
    entry = golden['matcher']
    matcher = TwoRoundHungarianMatcher(
        class_weight=entry['cost_class_weight'], mask_weight=entry['cost_mask_weight'],
        dice_weight=entry['cost_dice_weight'], num_points=entry['num_points'],
        second_round_cost='full')
    targets = clip_targets(entry['gt_semantic_seg'], num_classes=7, ignore_value=255)
    assert targets[0].labels.tolist() == entry['target_labels'].tolist()
    assert torch.equal(targets[0].masks, entry['target_masks'].float())
    draws = iter([entry['point_coords']])
    first, second = matcher(entry['pred_logits'], entry['pred_masks'], targets,
                            rand=lambda *size, dtype=None, device=None: next(draws))
    assert [[q.tolist(), k.tolist()] for q, k in first] == entry['round1']
    assert [[q.tolist(), k.tolist()] for q, k in second] == entry['round2']
    cost, cost2 = matcher.cost_matrices(entry['pred_logits'][0], entry['pred_masks'][0], targets[0],
                                        entry['point_coords'])
    torch.testing.assert_close(cost, entry['C'], rtol=0, atol=1e-5)
    assert cost2 is cost  # stage 2 re-matches with the full cost


@pytest.mark.parametrize('second_round_cost', ['full', 'mask_bce'])
def test_rounds_are_brute_force_optimal_and_disjoint(second_round_cost):
    generator = torch.Generator().manual_seed(0)
    matcher = _matcher(second_round_cost)
    cases = [(q, k) for q in (1, 3, 5, 8) for k in (1, 2, 3, 4)] + [(2, 5), (3, 5)]
    for seed, (num_queries, num_targets) in enumerate(cases):
        logits, masks, target = _random_case(generator, num_queries, num_targets)
        rand = _fixed_rand(seed)
        (first,), (second,) = matcher(logits, masks, [target], rand)
        cost, cost2 = matcher.cost_matrices(logits[0], masks[0], target,
                                            _fixed_rand(seed)(1, 64, 2))
        cost, cost2 = cost.double().numpy(), cost2.double().numpy()
        rows1, cols1 = first[0].numpy(), first[1].numpy()
        rows2, cols2 = second[0].numpy(), second[1].numpy()
        assert len(rows1) == min(num_queries, num_targets)
        assert len(rows2) == min(num_queries - len(rows1), num_targets)
        assert not set(rows1) & set(rows2)
        for rows, cols in ((rows1, cols1), (rows2, cols2)):
            assert len(set(cols)) == len(cols) and list(rows) == sorted(rows)
        assert cost[rows1, cols1].sum() == pytest.approx(_brute_force(cost, range(num_queries)),
                                                         abs=1e-9)
        free = [q for q in range(num_queries) if q not in set(rows1)]
        assert cost2[rows2, cols2].sum() == pytest.approx(_brute_force(cost2, free), abs=1e-9)


def test_stage1_second_round_uses_the_unweighted_mask_bce():
    generator = torch.Generator().manual_seed(1)
    logits, masks, target = _random_case(generator, 6, 3, frames=1)
    coords = _fixed_rand(0)(1, 64, 2)
    full, same = _matcher('full').cost_matrices(logits[0], masks[0], target, coords)
    weighted, mask_only = _matcher('mask_bce').cost_matrices(logits[0], masks[0], target, coords)
    assert same is full
    torch.testing.assert_close(weighted, full)
    # Independent BCE at the shared points: one point set for every mask and frame.
    grid = 2 * coords[:, None] - 1
    pred = torch.nn.functional.grid_sample(masks[0], grid.expand(6, -1, -1, -1),
                                           align_corners=False)
    gt = torch.nn.functional.grid_sample(target.masks, grid.expand(3, -1, -1, -1),
                                         align_corners=False)
    pred, gt = pred.flatten(1).double(), gt.flatten(1).double()
    p = pred.sigmoid()[:, None]
    bce = -(gt[None] * p.log() + (1 - gt[None]) * (1 - p).log()).mean(-1)
    torch.testing.assert_close(mask_only.double(), bce, rtol=1e-5, atol=1e-6)


def test_more_ground_truths_than_free_queries_matches_what_it_can_and_logs():
    generator = torch.Generator().manual_seed(2)
    logits, masks, target = _random_case(generator, 5, 4)
    logger = logging.getLogger('mmseg.models.losses.matcher')
    records = []
    handler = logging.Handler(level=logging.DEBUG)
    handler.emit = records.append
    old_level = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    try:
        (first,), (second,) = _matcher()(logits, masks, [target], _fixed_rand(0))
    finally:
        logger.removeHandler(handler)
        logger.setLevel(old_level)
    assert len(first[0]) == 4 and len(second[0]) == 1
    assert not set(first[0].tolist()) & set(second[0].tolist())
    assert len(records) == 1 and records[0].levelno == logging.DEBUG
    assert ('4 ground truths, 5 queries; 4 got a primary and 1 a secondary'
            in records[0].getMessage())


def test_empty_targets_and_draw_order():
    """A clip without labels gets no pairs; each batch element draws once, in order."""
    generator = torch.Generator().manual_seed(3)
    logits, masks, target = _random_case(generator, 4, 2)
    empty = MaskTargets(labels=torch.zeros(0, dtype=torch.int64), masks=torch.zeros(0, 2, 8, 10))
    sizes = []

    def rand(*size, dtype=None, device=None):
        sizes.append(size)
        return torch.rand(*size)

    first, second = _matcher(num_points=7)(logits.repeat(2, 1, 1), masks.repeat(2, 1, 1, 1, 1),
                                           [empty, target], rand)
    assert sizes == [(1, 7, 2), (1, 7, 2)]
    assert [len(q) for q, _ in first] == [0, 2] and [len(q) for q, _ in second] == [0, 2]


def test_matcher_has_no_state_and_rejects_bad_settings():
    matcher = _matcher()
    assert not isinstance(matcher, torch.nn.Module)
    with pytest.raises(ValueError, match='second_round_cost'):
        _matcher('dice')
    with pytest.raises(ValueError, match='non-zero'):
        TwoRoundHungarianMatcher(class_weight=0, mask_weight=0, dice_weight=0, num_points=4,
                                 second_round_cost='full')


def test_non_finite_predictions_still_give_a_full_assignment():
    """NaN logits must not crash scipy: the NaN loss is then reported by the runner's guard."""
    generator = torch.Generator().manual_seed(4)
    logits, masks, target = _random_case(generator, 6, 3)
    logits[0, 1] = float('nan')
    masks[0, 2] = float('inf')
    (first,), (second,) = _matcher()(logits, masks, [target], _fixed_rand(0))
    assert len(first[0]) == 3 and len(second[0]) == 3
    assert not {1, 2} & set(first[0].tolist())  # the poisoned queries cost the most
    assert not set(first[0].tolist()) & set(second[0].tolist())


@pytest.mark.parametrize('second_round_cost', ['full', 'mask_bce'])
def test_match_many_equals_one_call_per_prediction(second_round_cost):
    """Several predictions matched together (one host transfer) give the matchings, and consume
    the draws, of one call per prediction in turn."""
    generator = torch.Generator().manual_seed(5)
    logits, masks, target = _random_case(generator, 6, 3)
    empty = MaskTargets(labels=torch.zeros(0, dtype=torch.int64), masks=torch.zeros(0, 2, 8, 10))
    predictions = [(torch.randn(2, 6, 6, generator=generator),
                    torch.randn(2, 6, 2, 4, 5, generator=generator))
                   for _ in range(3)]
    targets = [target, empty]
    matcher = _matcher(second_round_cost)
    together = matcher.match_many(predictions, targets, _fixed_rand(9))
    rand = _fixed_rand(9)
    one_by_one = [matcher(logits, masks, targets, rand) for logits, masks in predictions]
    as_lists = lambda pairs: [[q.tolist(), k.tolist()] for q, k in pairs]  # noqa: E731
    assert [(as_lists(a), as_lists(b)) for a, b in together] == \
        [(as_lists(a), as_lists(b)) for a, b in one_by_one]
    assert matcher.match_many([], targets, _fixed_rand(9)) == []
