"""Hand-made cases: every loss term against an independent float64 computation written here."""
import pytest
import torch

import mmseg.models.losses.criterion as criterion_module
from mmseg.models import LOSSES
from mmseg.models.losses import THEMaskCriterion

NUM_CLASSES = 3
NO_OBJECT = 0.1
# Clip 0: classes {1, 2}, frame 2 fully ignored; clip 1: class 0 only. Each label covers a 2x2
# block of the 4x4 ground truth, i.e. one pixel of the 2x2 predictions.
GT_BLOCKS = torch.tensor([[[[1, 1], [2, 255]], [[2, 2], [2, 1]], [[255, 255], [255, 255]]],
                          [[[0, 0], [0, 0]], [[0, 255], [0, 0]], [[0, 0], [0, 0]]]])
LABELS = [[1, 2], [0]]
CENTRES = torch.tensor([[0.25, 0.25], [0.75, 0.25], [0.25, 0.75], [0.75, 0.75]])


def _gt(blocks=GT_BLOCKS, size=4):
    rows = torch.arange(size) * blocks.shape[-2] // size
    cols = torch.arange(size) * blocks.shape[-1] // size
    return blocks[..., rows, :][..., cols][:, :, None]


def _centre_draws(*size, dtype=None, device=None):
    """Every draw returns the centres of the 2x2 prediction pixels (so point sampling reads the
    pixels exactly, and the 4x4 ground truth at its 2x2 blocks)."""
    return CENTRES.repeat(size[0], size[1] // 4, 1)


def _criterion(stage, **changes):
    cfg = dict(stage=stage, num_classes=NUM_CLASSES, ignore_value=255,
               matcher_cfg=dict(class_weight=2.0, mask_weight=5.0, dice_weight=5.0,
                                class_weight_unmatched=1.0, mask_weight_unmatched=0.5,
                                dice_weight_unmatched=0.5),
               warmup_iters=10, round_weight=[0.8, 0.5], aux_weight=0.25, deep_supervision=True,
               dec_layers=2, no_object_weight=NO_OBJECT, train_num_points=4, oversample_ratio=3.0,
               importance_sample_ratio=0.0)
    cfg.update(changes)
    criterion = LOSSES.build(dict(type='THEMaskCriterion', **cfg))
    criterion.rand = _centre_draws
    return criterion


def _prediction(generator, batch, queries, frames, size=2):
    return dict(pred_logits=torch.randn(batch, queries, NUM_CLASSES + 1, generator=generator) * 2,
                pred_masks=torch.randn(batch, queries, frames, size, size, generator=generator) * 2)


def _with_aux(generator, batch, queries, frames):
    outputs = _prediction(generator, batch, queries, frames)
    outputs['aux_outputs'] = [_prediction(generator, batch, queries, frames)]
    return outputs


class MatcherRecorder:
    def __init__(self, matcher):
        self.matcher = matcher
        self.calls = []

    def __call__(self, logits, masks, targets, rand):
        result = self.matcher(logits, masks, targets, rand)
        self.calls.append((logits, masks, result))
        return result


def _bce(x, y):
    p = x.sigmoid()
    return -(y * p.log() + (1 - y) * (1 - p).log())


def _dice(x, y):
    p = x.sigmoid()
    return 1 - (2 * (p * y).sum() + 1) / (p.sum() + y.sum() + 1)


def _reference(logits, masks, gt_blocks, gt_full, labels, first, second, num_masks):
    """Raw loss terms in float64, loop by loop. ``masks`` (B, Q, T, 2, 2); ``gt_blocks`` the labels
    at the prediction pixels (B, T, 2, 2), ``gt_full`` at full resolution (B, T, H, W)."""
    logits, masks = logits.double(), masks.double()
    batch, queries, frames = masks.shape[:3]
    ce_sum = weight_sum = 0
    for b in range(batch):
        classes = {}
        for pairs in (first, second):
            for q, k in zip(*[p.tolist() for p in pairs[b]]):
                classes[q] = labels[b][k]
        for q in range(queries):
            weight = 1.0 if q in classes else NO_OBJECT
            ce_sum += -weight * logits[b, q].log_softmax(0)[classes.get(q, NUM_CLASSES)]
            weight_sum += weight
    terms = dict(ce=ce_sum / weight_sum, mask=0, dice=0, mask_unmatched=0, dice_unmatched=0)
    height, width = gt_full.shape[-2:]
    rows, cols = torch.arange(height) * 2 // height, torch.arange(width) * 2 // width
    for b in range(batch):
        for q, k in zip(*[p.tolist() for p in first[b]]):
            for t in range(frames):
                x = masks[b, q, t].flatten()
                y = (gt_blocks[b, t].flatten() == labels[b][k]).double()  # 255: negative
                terms['mask'] += _bce(x, y).mean() / num_masks / frames
                terms['dice'] += _dice(x, y) / num_masks / frames
        for q, k in zip(*[p.tolist() for p in second[b]]):
            for t in range(frames):
                x = masks[b, q, t][rows][:, cols]  # nearest upsampling
                y = ((gt_full[b, t] == labels[b][k]) & (x.sigmoid() > 0.5)).double()
                terms['mask_unmatched'] += _bce(x, y).mean() / num_masks / frames
                terms['dice_unmatched'] += _dice(x, y) / num_masks / frames
    return terms


def _expected_two_round(terms, suffix, scale=1.0):
    return {f'loss_ce{suffix}': terms['ce'] * 2.0 * scale,
            f'r0_loss_mask{suffix}': terms['mask'] * 5.0 * 0.8 * scale,
            f'r0_loss_dice{suffix}': terms['dice'] * 5.0 * 0.8 * scale,
            f'r1_loss_mask_unmatched{suffix}': terms['mask_unmatched'] * 0.5 * 0.5 * scale,
            f'r1_loss_dice_unmatched{suffix}': terms['dice_unmatched'] * 0.5 * 0.5 * scale}


def _assert_losses(losses, expected):
    assert list(losses) == list(expected)
    for key, value in losses.items():
        assert value.dtype == torch.float32
        assert value.item() == pytest.approx(float(expected[key]), rel=1e-5, abs=1e-7), key


def _run_stage1(seed, iteration):
    """Stage-1 losses (warmup_iters 10) of random predictions with one aux prediction; returns
    them with [(suffix, prediction, round-1 pairs, round-2 pairs)]."""
    generator = torch.Generator().manual_seed(seed)
    outputs = _with_aux(generator, batch=2, queries=5, frames=3)
    criterion = _criterion(1)
    criterion.matcher = recorder = MatcherRecorder(criterion.matcher)
    losses = criterion(outputs, _gt(), iteration=iteration)
    predictions = [('', outputs), ('_0', outputs['aux_outputs'][0])]
    return losses, [(suffix, prediction, first, second)
                    for (suffix, prediction), (_, _, (first, second))
                    in zip(predictions, recorder.calls)]


def test_stage1_two_round_terms():
    losses, matched = _run_stage1(seed=0, iteration=10)
    expected = {}
    for suffix, prediction, first, second in matched:
        assert all(len(q) == len(LABELS[b]) for b, (q, _) in enumerate(second))
        terms = _reference(prediction['pred_logits'], prediction['pred_masks'], GT_BLOCKS,
                           _gt()[:, :, 0], LABELS, first, second, num_masks=3)
        expected.update(_expected_two_round(terms, suffix))
    _assert_losses(losses, expected)


def test_stage1_warmup_is_one_to_one_with_plain_weights():
    losses, matched = _run_stage1(seed=1, iteration=9)
    expected = {}
    no_pairs = [(torch.zeros(0, dtype=torch.int64),) * 2] * 2
    for suffix, prediction, first, _ in matched:
        terms = _reference(prediction['pred_logits'], prediction['pred_masks'], GT_BLOCKS,
                           _gt()[:, :, 0], LABELS, first, no_pairs, num_masks=3)
        expected.update({f'loss_ce{suffix}': terms['ce'] * 2.0,
                         f'loss_mask{suffix}': terms['mask'] * 5.0,
                         f'loss_dice{suffix}': terms['dice'] * 5.0})
    _assert_losses(losses, expected)


def test_stage2_clip_and_frame_branches():
    generator = torch.Generator().manual_seed(2)
    batch, frames = 2, 3
    clip = _with_aux(generator, batch=batch, queries=6, frames=frames)
    frame = _with_aux(generator, batch=batch * frames, queries=6, frames=1)
    criterion = _criterion(2)
    criterion.matcher = recorder = MatcherRecorder(criterion.matcher)
    losses = criterion((clip, frame), _gt())
    expected_clip, expected_frame = {}, {}
    frame_blocks = GT_BLOCKS.flatten(0, 1)[:, None]
    frame_full = _gt()[:, :, 0].flatten(0, 1)[:, None]
    frame_labels = [labels for labels in LABELS for _ in range(frames)]
    pairs = [('', clip, frame), ('_0', clip['aux_outputs'][0], frame['aux_outputs'][0])]
    for ((suffix, clip_pred, frame_pred),
         (logits, masks, (first, second))) in zip(pairs, recorder.calls):
        # Matched with the clip's class logits and the frame queries' masks (frame b*T + t).
        assert logits is clip_pred['pred_logits']
        for b in range(batch):
            for t in range(frames):
                assert torch.equal(masks[b, :, t], frame_pred['pred_masks'][b * frames + t, :, 0])
        terms = _reference(clip_pred['pred_logits'], clip_pred['pred_masks'], GT_BLOCKS,
                           _gt()[:, :, 0], LABELS, first, second, num_masks=3)
        expected_clip.update(_expected_two_round(terms, suffix))
        first_frame = [pair for pair in first for _ in range(frames)]
        second_frame = [pair for pair in second for _ in range(frames)]
        terms = _reference(frame_pred['pred_logits'], frame_pred['pred_masks'], frame_blocks,
                           frame_full, frame_labels, first_frame, second_frame,
                           num_masks=3 * frames)
        expected_frame.update(_expected_two_round(terms, suffix + '_aux', scale=0.25))
    _assert_losses(losses, {**expected_clip, **expected_frame})


def test_secondary_target_at_a_size_that_is_not_a_multiple():
    generator = torch.Generator().manual_seed(3)
    outputs = _prediction(generator, batch=2, queries=5, frames=3)
    criterion = _criterion(1, deep_supervision=False, warmup_iters=0)
    criterion.matcher = recorder = MatcherRecorder(criterion.matcher)
    gt = _gt(size=5)
    losses = criterion(outputs, gt)
    (_, _, (first, second)), = recorder.calls
    terms = _reference(outputs['pred_logits'], outputs['pred_masks'], GT_BLOCKS, gt[:, :, 0],
                       LABELS, first, second, num_masks=3)
    for key in ('r1_loss_mask_unmatched', 'r1_loss_dice_unmatched'):
        assert losses[key].item() == pytest.approx(float(_expected_two_round(terms, '')[key]),
                                                   rel=1e-5)


def test_warmup_switch_follows_the_iteration_argument():
    generator = torch.Generator().manual_seed(4)
    outputs = _with_aux(generator, batch=2, queries=5, frames=3)
    criterion = _criterion(1, warmup_iters=100)
    before = criterion(outputs, _gt(), iteration=99)
    after = criterion(outputs, _gt(), iteration=100)
    assert list(before) == ['loss_ce', 'loss_mask', 'loss_dice', 'loss_ce_0', 'loss_mask_0',
                            'loss_dice_0']
    assert list(after) == ['loss_ce', 'r0_loss_mask', 'r0_loss_dice', 'r1_loss_mask_unmatched',
                           'r1_loss_dice_unmatched', 'loss_ce_0', 'r0_loss_mask_0',
                           'r0_loss_dice_0', 'r1_loss_mask_unmatched_0', 'r1_loss_dice_unmatched_0']
    with pytest.raises(ValueError, match='needs .*iteration'):
        criterion(outputs, _gt())
    # Without a warm-up, stage 1 is two-round at every iteration, given or not.
    assert list(_criterion(1, warmup_iters=0)(outputs, _gt())) == list(after)


def test_stage2_has_no_warmup():
    generator = torch.Generator().manual_seed(5)
    clip = _with_aux(generator, batch=1, queries=4, frames=2)
    frame = _with_aux(generator, batch=2, queries=4, frames=1)
    gt = _gt()[:1, :2]
    criterion = _criterion(2, warmup_iters=1000)
    without = criterion((clip, frame), gt)
    assert len(without) == 20 and 'r1_loss_dice_unmatched_0_aux' in without
    at_zero = criterion((clip, frame), gt, iteration=0)
    assert all(torch.equal(without[k], at_zero[k]) for k in without)


def test_losses_are_float32_under_half_inputs_and_autocast():
    generator = torch.Generator().manual_seed(6)
    outputs = _with_aux(generator, batch=2, queries=5, frames=3)
    half = dict(pred_logits=outputs['pred_logits'].half(), pred_masks=outputs['pred_masks'].half(),
                aux_outputs=[{k: v.half() for k, v in outputs['aux_outputs'][0].items()}])
    rounded = dict(pred_logits=half['pred_logits'].float(), pred_masks=half['pred_masks'].float(),
                   aux_outputs=[{k: v.float() for k, v in half['aux_outputs'][0].items()}])
    criterion = _criterion(1, warmup_iters=0)
    reference = criterion(rounded, _gt())
    from_half = criterion(half, _gt())
    with torch.autocast('cpu', dtype=torch.bfloat16):
        under_autocast = criterion(rounded, _gt())
    for key, value in reference.items():
        assert from_half[key].dtype == under_autocast[key].dtype == torch.float32
        assert torch.equal(from_half[key], value) and torch.equal(under_autocast[key], value)


def test_gradients_flow_to_the_predictions():
    generator = torch.Generator().manual_seed(7)
    outputs = _with_aux(generator, batch=2, queries=5, frames=3)
    leaves = [outputs['pred_logits'], outputs['pred_masks']]
    for leaf in leaves:
        leaf.requires_grad_(True)
    total = sum(_criterion(1, warmup_iters=0)(outputs, _gt()).values())
    total.backward()
    assert all(leaf.grad is not None and leaf.grad.abs().sum() > 0 for leaf in leaves)


def test_fewer_queries_than_ground_truths_and_an_unlabelled_clip():
    generator = torch.Generator().manual_seed(8)
    blocks = GT_BLOCKS.clone()
    blocks[0, 1] = torch.tensor([[0, 1], [2, 2]])  # clip 0 now has 3 classes
    blocks[1] = 255  # clip 1 has none
    outputs = _with_aux(generator, batch=2, queries=2, frames=3)
    criterion = _criterion(1, warmup_iters=0)
    criterion.matcher = recorder = MatcherRecorder(criterion.matcher)
    losses = criterion(outputs, _gt(blocks))
    first, second = recorder.calls[0][2]
    assert [len(q) for q, _ in first] == [2, 0] and [len(q) for q, _ in second] == [0, 0]
    assert (losses['r1_loss_mask_unmatched'].item() == 0
            and losses['r1_loss_dice_unmatched'].item() == 0)
    assert all(torch.isfinite(v) for v in losses.values()) and losses['r0_loss_mask'] > 0


def test_state_dict_and_registry():
    criterion = _criterion(2, num_classes=7, no_object_weight=0.1)
    assert isinstance(criterion, THEMaskCriterion)
    assert list(criterion.state_dict()) == ['empty_weight']
    assert criterion.empty_weight.tolist() == pytest.approx([1.0] * 7 + [0.1])
    assert list(criterion.parameters()) == [] and len(list(criterion.buffers())) == 1


def test_bad_configs_and_inputs_are_reported():
    with pytest.raises(ValueError, match=r"missing \['dice_weight_unmatched'\]"):
        LOSSES.build(dict(type='THEMaskCriterion', stage=1, num_classes=3,
                        matcher_cfg=dict(class_weight=2.0, mask_weight=5.0, dice_weight=5.0,
                                         class_weight_unmatched=1.0, mask_weight_unmatched=0.5)))
    with pytest.raises(ValueError, match='stage must be 1 or 2'):
        _criterion(3)
    generator = torch.Generator().manual_seed(9)
    outputs = _prediction(generator, batch=2, queries=5, frames=3)
    with pytest.raises(ValueError, match='0 aux_outputs; with deep_supervision and dec_layers=2 '
                                         'expected 1'):
        _criterion(1, warmup_iters=0)(outputs, _gt())
    with pytest.raises(ValueError, match=r'pred_masks \(2, Q, 2, h, w\)'):
        _criterion(1, warmup_iters=0, deep_supervision=False)(outputs, _gt()[:, :2])
    with pytest.raises(TypeError, match=r'outputs=\(clip, frame\)'):
        _criterion(2)(outputs, _gt())


def test_num_masks_is_averaged_over_processes_and_clamped(monkeypatch):
    """As with torch.distributed initialised and a second process holding other counts."""
    other_process = torch.tensor([4.0, 12.0, 1.0])
    reduced = []

    def all_reduce(tensor):
        reduced.append(tensor.clone())
        tensor += other_process

    monkeypatch.setattr(criterion_module.dist, 'is_available', lambda: True)
    monkeypatch.setattr(criterion_module.dist, 'is_initialized', lambda: True)
    monkeypatch.setattr(criterion_module.dist, 'get_world_size', lambda: 2)
    monkeypatch.setattr(criterion_module.dist, 'all_reduce', all_reduce)
    assert THEMaskCriterion._num_masks([1, 3, 0], torch.device('cpu')) == [2.5, 7.5, 1.0]
    assert len(reduced) == 1 and reduced[0].tolist() == [1.0, 3.0, 0.0]
