"""The criterion against the original's training objective (themask_tiny_train_golden.pt).

From the stored predictions and ground truth, with the recorded draws injected (or replayed from
the seed), every matching, cost matrix, point selection, loss term and the total must agree.
"""
import pytest
import torch

import mmseg.models.losses.criterion as criterion_module
from mmseg.models.losses import clip_targets

RTOL = 1e-5
# final prediction, then aux_outputs[0..2] (the golden's p = 3, 0, 1, 2)
PRED_ORDER = [None, 0, 1, 2]


class Recorder:
    """Wraps a callable and keeps (args, result) of every call."""

    def __init__(self, fn):
        self.fn = fn
        self.calls = []

    def __call__(self, *args, **kwargs):
        result = self.fn(*args, **kwargs)
        self.calls.append((args, kwargs, result))
        return result


def _prediction(outputs, index):
    return outputs if index is None else outputs['aux_outputs'][index]


def _as_lists(pairs):
    return [[q.tolist(), k.tolist()] for q, k in pairs]


def _check_losses(losses, entry):
    assert list(losses) == entry['loss_keys_in_order']
    for key, value in losses.items():
        assert value.dtype == torch.float32
        assert value.item() == pytest.approx(entry['loss_dict'][key], rel=RTOL), key
    total = torch.zeros((), dtype=torch.float32)
    for value in losses.values():  # the float32 running sum in key order, as _parse_losses
        total = total + value
    assert total.item() == pytest.approx(entry['total_loss'], rel=RTOL)


def _check_costs(matcher, logits, masks, target, draw, matching):
    """C within 1e-5 and the round-2 matrix on the rows round 1 left free."""
    cost, cost2 = matcher.cost_matrices(logits, masks, target, draw)
    torch.testing.assert_close(cost, matching['C'][0], rtol=0, atol=1e-5)
    free = torch.ones(cost.shape[0], dtype=torch.bool)
    free[matching['round1'][0][0]] = False
    torch.testing.assert_close(cost2[free], matching['C_round2'][0][free], rtol=0, atol=1e-5)
    blocked = matching['C_round2'][0][~free]
    assert torch.allclose(blocked, 1000 * cost2.max().abs().expand_as(blocked), rtol=1e-5)


def _check_point_coords(recorded, golden_coords):
    """Same points per mask; near-tied top-k picks may come in another order."""
    assert len(recorded) == len(golden_coords)
    for (_, _, coords), entry in zip(recorded, golden_coords):
        ref = entry['tensor']
        assert coords.shape == ref.shape
        for mine, theirs in zip(coords.tolist(), ref.tolist()):
            assert sorted(map(tuple, mine)) == sorted(map(tuple, theirs))


def _run_stage2(criterion, entry, monkeypatch):
    matcher = Recorder(criterion.matcher)
    sampler = Recorder(criterion_module.uncertain_point_coords)
    monkeypatch.setattr(criterion, 'matcher', matcher)
    monkeypatch.setattr(criterion_module, 'uncertain_point_coords', sampler)
    predictions = entry['predictions']
    losses = criterion((predictions['clip'], predictions['frame']), entry['gt_semantic_seg'])
    return losses, matcher.calls, sampler.calls


def _check_stage2_matchings(calls, golden_matching):
    assert len(calls) == len(golden_matching)
    for (_, _, (first, second)), matching in zip(calls, golden_matching):
        assert _as_lists(first) == matching['round1']
        assert _as_lists(second) == matching['round2']


@pytest.mark.parametrize('draws', ['injected', 'seed'])
def test_stage2_reproduces_the_original(train_golden, make_criterion, replay, monkeypatch, draws):
    entry = train_golden['stage2']
    criterion = make_criterion(2)
    if draws == 'injected':
        criterion.rand = replay(entry['draws'])
    else:
        torch.manual_seed(entry['seed_before_losses'])
    losses, matcher_calls, sampler_calls = _run_stage2(criterion, entry, monkeypatch)
    if draws == 'injected':
        assert criterion.rand.used == len(entry['draws'])
    _check_losses(losses, entry)
    _check_stage2_matchings(matcher_calls, entry['matching'])
    _check_point_coords(sampler_calls, entry['point_coords_used'])

    # The cost matrices: clip-branch class logits with the frame-branch masks, restacked.
    target, = clip_targets(entry['gt_semantic_seg'], num_classes=7, ignore_value=255)
    assert target.labels.tolist() == entry['target_labels'].tolist()
    clip, frame = entry['predictions']['clip'], entry['predictions']['frame']
    for index, matching in zip(PRED_ORDER, entry['matching']):
        logits = _prediction(clip, index)['pred_logits'][0]
        masks = _prediction(frame, index)['pred_masks'][:, :, 0].transpose(0, 1)
        draw = entry['draws'][matching['draw_indices'][0]]
        _check_costs(criterion.matcher.fn, logits, masks, target, draw, matching)


def test_stage2_replay_at_12544_points(train_golden, make_criterion, monkeypatch):
    entry = dict(train_golden['stage2_replay_only_12544'])
    entry['predictions'] = train_golden['stage2']['predictions']
    entry['gt_semantic_seg'] = train_golden['stage2']['gt_semantic_seg']
    criterion = make_criterion(2, train_num_points=entry['train_num_points'])
    torch.manual_seed(entry['seed_before_losses'])
    losses, matcher_calls, _ = _run_stage2(criterion, entry, monkeypatch)
    _check_losses(losses, entry)
    _check_stage2_matchings(matcher_calls, entry['matching'])


@pytest.mark.parametrize('variant', ['warmup', 'two_round'])
@pytest.mark.parametrize('draws', ['injected', 'seed'])
def test_stage1_reproduces_the_original(train_golden, make_criterion, replay, monkeypatch, variant,
                                        draws):
    shared, entry = train_golden['stage1'], train_golden['stage1'][variant]
    criterion = make_criterion(1, warmup_iters=entry['criterion_warmup_iters'])
    if draws == 'injected':
        criterion.rand = replay(shared['draws'])
    else:
        torch.manual_seed(entry['seed_before_losses'])
    matcher = Recorder(criterion.matcher)
    sampler = Recorder(criterion_module.uncertain_point_coords)
    monkeypatch.setattr(criterion, 'matcher', matcher)
    monkeypatch.setattr(criterion_module, 'uncertain_point_coords', sampler)
    # The released criterion's counter stood at 0 (warm-up) or was set to 30000 (two-round);
    # here the same switch is driven by the iteration argument.
    losses = criterion(shared['predictions'], shared['gt_semantic_seg'],
                       iteration=entry['criterion_iter'])
    if draws == 'injected':
        assert criterion.rand.used == len(shared['draws'])
    _check_losses(losses, entry)
    _check_point_coords(sampler.calls, shared['point_coords_used'])
    target, = clip_targets(shared['gt_semantic_seg'], num_classes=7, ignore_value=255)
    assert len(matcher.calls) == len(entry['matching'])
    for index, (_, _, (first, second)), matching in zip(PRED_ORDER, matcher.calls,
                                                        entry['matching']):
        assert _as_lists(first) == matching['round1']
        assert _as_lists(second) == matching['round2']
        prediction = _prediction(shared['predictions'], index)
        draw = shared['draws'][matching['draw_indices'][0]]
        _check_costs(matcher.fn, prediction['pred_logits'][0], prediction['pred_masks'][0], target,
                     draw, matching)


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason='needs a CUDA device')
def test_stage2_on_cuda_under_autocast(train_golden, make_criterion, replay, monkeypatch):
    """Same pairs on the GPU, and float32 losses close to the CPU ones even under fp16 autocast
    (other kernels: near-tied top-k points may swap, hence the looser tolerance)."""
    entry = train_golden['stage2']
    cuda = torch.device('cuda')

    def to_cuda(prediction):
        moved = {k: prediction[k].to(cuda) for k in ('pred_logits', 'pred_masks')}
        moved['aux_outputs'] = [{k: v.to(cuda) for k, v in aux.items()}
                                for aux in prediction['aux_outputs']]
        return moved

    criterion = make_criterion(2).to(cuda)
    criterion.rand = replay(entry['draws'])
    matcher = Recorder(criterion.matcher)
    monkeypatch.setattr(criterion, 'matcher', matcher)
    predictions = entry['predictions']
    with torch.autocast('cuda', dtype=torch.float16):
        losses = criterion((to_cuda(predictions['clip']), to_cuda(predictions['frame'])),
                           entry['gt_semantic_seg'].to(cuda))
    _check_stage2_matchings(matcher.calls, entry['matching'])
    assert list(losses) == entry['loss_keys_in_order']
    for key, value in losses.items():
        assert value.dtype == torch.float32 and value.device.type == 'cuda'
        assert value.item() == pytest.approx(entry['loss_dict'][key], rel=1e-3), key
