"""THE-Mask training objective: two-round matching, hierarchical mask loss, deep supervision."""
from collections import OrderedDict
from typing import Any, Dict, List, Optional, Sequence, Tuple, Union

import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch import Tensor, nn

from ..builder import LOSSES
from ..utils.compute_mode import fast_mode
from .mask_losses import dice_loss, sigmoid_bce_loss
from .matcher import Pairs, TwoRoundHungarianMatcher
from .point_sample import point_sample, uncertain_point_coords
from .targets import MaskTargets, clip_targets, frame_targets

Prediction = Dict[str, Any]  # pred_logits, pred_masks and (top level only) aux_outputs

_MATCHER_KEYS = ('class_weight', 'mask_weight', 'dice_weight',
                 'class_weight_unmatched', 'mask_weight_unmatched', 'dice_weight_unmatched')


@LOSSES.register_module()
class THEMaskCriterion(nn.Module):
    """The loss of ``THEMask1fHead`` (stage 1) and ``THEMaskHead`` (stage 2).

    For each prediction (the final one, then ``aux_outputs[0..L-1]`` with suffixes ``_0``..), a
    fresh matching gives every ground-truth class a primary (round 1) and a secondary (round 2)
    query, then:

    - ``loss_ce``: cross-entropy over all queries with K+1 classes, no-object weight
      ``no_object_weight``; round-1 and round-2 queries both get their target's class, all others
      no-object. As in the original, round-2 queries get the full class weight and
      ``class_weight_unmatched`` is never used.
    - ``r0_loss_mask``, ``r0_loss_dice``: round-1 pairs, sigmoid BCE and dice on importance-sampled
      points of each (mask, frame), summed, divided by ``num_masks`` and by T.
    - ``r1_loss_mask_unmatched``, ``r1_loss_dice_unmatched``: round-2 pairs, BCE (mean over pixels)
      and dice of the prediction nearest-upsampled to the ground-truth size, against the target
      ``GT AND sigmoid(prediction) > 0.5``, normalised the same way.

    Weighted by ``class_weight``, ``mask_weight * round_weight[0]``, ``dice_weight *
    round_weight[0]``, ``mask_weight_unmatched * round_weight[1]`` and ``dice_weight_unmatched *
    round_weight[1]``. Stage 2 adds the frame-query branch against per-frame targets, every term
    also multiplied by ``aux_weight`` and suffixed ``_aux``.

    Stage 1 uses one-to-one matching and the plain ``loss_ce``, ``loss_mask``, ``loss_dice`` (class,
    mask and dice weights) while ``iteration < warmup_iters``, two-round after. The original never
    advanced its counter; ``warmup_iters >= max_iters`` reproduces the release. Stage 2 has no
    warm-up (``warmup_iters`` is accepted because both stages share one ``loss_cfg``, and is not
    used there).

    Every random number comes from the attribute ``rand`` (``torch.rand`` by default), called as
    ``rand(*size, dtype=torch.float32, device=...)``; replace it to replay or inject draws. The
    order is the original's. Stage 1, for each prediction: matcher ``(1, N, 2)`` per batch
    element, then the point loss ``(M, 3N, 2)`` and ``(M, N - 0.75N, 2)``. Stage 2: first the
    matcher draws of all predictions, then the point-loss draws of all clip-branch predictions,
    then of all frame-branch predictions.

    Args:
        stage: 1 (``THEMask1fHead``) or 2 (``THEMaskHead``).
        num_classes: number of classes K (logits have K+1 entries).
        ignore_value: the label of unannotated pixels.
        matcher_cfg: ``class_weight``, ``mask_weight``, ``dice_weight`` (matching costs and loss
            weights) and ``class_weight_unmatched``, ``mask_weight_unmatched``,
            ``dice_weight_unmatched`` (round-2 loss weights; the class one is unused, see above).
        warmup_iters: stage-1 iterations of one-to-one matching.
        round_weight: multipliers of the round-1 and round-2 mask terms.
        aux_weight: multiplier of every stage-2 frame-branch term.
        deep_supervision: also supervise ``aux_outputs``; without it they are ignored.
        dec_layers: number of predictions (final + aux); checked against ``aux_outputs``.
        no_object_weight: cross-entropy weight of the no-object class.
        train_num_points: points per sample for matching and per mask for the point loss.
        oversample_ratio: candidate points per sampled point.
        importance_sample_ratio: share of the points chosen by uncertainty.
    """

    def __init__(self, *, stage: int, num_classes: int, ignore_value: int = 255,
                 matcher_cfg: Dict[str, float], warmup_iters: int = 0,
                 round_weight: Sequence[float] = (1.0, 0.5), aux_weight: float = 0.25,
                 deep_supervision: bool = True, dec_layers: int = 10, no_object_weight: float = 0.1,
                 train_num_points: int = 12544, oversample_ratio: float = 3.0,
                 importance_sample_ratio: float = 0.75) -> None:
        super().__init__()
        if stage not in (1, 2):
            raise ValueError(f'stage must be 1 or 2, got {stage!r}')
        missing = [k for k in _MATCHER_KEYS if k not in matcher_cfg]
        unknown = sorted(set(matcher_cfg) - set(_MATCHER_KEYS))
        if missing or unknown:
            raise ValueError(f'loss_cfg.matcher_cfg needs exactly the keys {list(_MATCHER_KEYS)}; '
                             f'missing {missing}, unknown {unknown}')
        if len(round_weight) != 2:
            raise ValueError(f'round_weight must have 2 entries (round 1, round 2), got '
                             f'{round_weight!r}')
        if warmup_iters < 0:
            raise ValueError(f'warmup_iters must be >= 0, got {warmup_iters}')
        if oversample_ratio < 1:
            raise ValueError(f'oversample_ratio must be >= 1, got {oversample_ratio}')
        if not 0 <= importance_sample_ratio <= 1:
            raise ValueError(f'importance_sample_ratio must be in [0, 1], got '
                             f'{importance_sample_ratio}')
        self.stage = stage
        self.num_classes = num_classes
        self.ignore_value = ignore_value
        self.warmup_iters = warmup_iters
        self.aux_weight = aux_weight
        self.deep_supervision = deep_supervision
        self.dec_layers = dec_layers
        # point sampling of the mask losses (PointRend's importance sampling)
        self.num_points, self.oversample_ratio, self.importance_sample_ratio = (
            train_num_points, oversample_ratio, importance_sample_ratio)
        self.rand = torch.rand
        self._counts_cache = {}  # per step: ground-truth counts per prediction cell (_cell_counts)
        self.matcher = TwoRoundHungarianMatcher(
            class_weight=matcher_cfg['class_weight'], mask_weight=matcher_cfg['mask_weight'],
            dice_weight=matcher_cfg['dice_weight'], num_points=train_num_points,
            # Stage 1 (the original's matcher_1f) re-matches with the unweighted mask BCE only.
            second_round_cost='mask_bce' if stage == 1 else 'full')
        self.loss_weights = OrderedDict(
            loss_ce=matcher_cfg['class_weight'],
            r0_loss_mask=matcher_cfg['mask_weight'] * round_weight[0],
            r0_loss_dice=matcher_cfg['dice_weight'] * round_weight[0],
            r1_loss_mask_unmatched=matcher_cfg['mask_weight_unmatched'] * round_weight[1],
            r1_loss_dice_unmatched=matcher_cfg['dice_weight_unmatched'] * round_weight[1])
        self.warmup_loss_weights = OrderedDict(loss_ce=matcher_cfg['class_weight'],
                                          loss_mask=matcher_cfg['mask_weight'],
                                          loss_dice=matcher_cfg['dice_weight'])
        empty_weight = torch.ones(num_classes + 1)
        empty_weight[-1] = no_object_weight
        self.register_buffer('empty_weight', empty_weight)

    def forward(self, outputs: Union[Prediction, Tuple[Prediction, Prediction]],
                gt_semantic_seg: Tensor,
                iteration: Optional[int] = None) -> 'OrderedDict[str, Tensor]':
        """Weighted losses, in the original's key order (the order the model sums them in).

        Args:
            outputs: stage 1: dict ``pred_logits`` (B, Q, K+1), ``pred_masks`` (B, Q, T, h, w),
                ``aux_outputs`` (list of dicts with the same keys). Stage 2: ``(clip, frame)``,
                clip as stage 1, frame with ``pred_logits`` (B*T, Q, K+1) and ``pred_masks``
                (B*T, Q, 1, h, w), frame b*T + t.
            gt_semantic_seg: (B, T, 1, H, W) labels in [0, K) or ``ignore_value``.
            iteration: the runner's iteration count before this step (``runner.iter``: 0 for the
                first step). Stage 1 with ``warmup_iters > 0`` needs it and raises without it;
                otherwise it is not used.
        """
        if self.stage == 1 and not isinstance(outputs, dict):
            raise TypeError(f'the stage-1 criterion takes outputs as a dict, got '
                            f'{type(outputs).__name__}')
        if self.stage == 2 and not (isinstance(outputs, (tuple, list)) and len(outputs) == 2):
            raise TypeError('the stage-2 criterion takes outputs=(clip, frame), got '
                            f'{type(outputs).__name__}')
        # Matching and losses in float32 whatever the caller's autocast state.
        self._counts_cache = {}
        try:
            with torch.autocast(device_type=gt_semantic_seg.device.type, enabled=False):
                targets = clip_targets(gt_semantic_seg, num_classes=self.num_classes,
                                       ignore_value=self.ignore_value)
                if self.stage == 1:
                    return self._stage1(outputs, targets, self._two_round(iteration))
                return self._stage2(outputs, targets)
        finally:
            self._counts_cache = {}

    def _two_round(self, iteration: Optional[int]) -> bool:
        if self.warmup_iters == 0:
            return True
        if iteration is None:
            raise ValueError(f'the stage-1 criterion has warmup_iters={self.warmup_iters} and '
                             "needs the runner's iteration: call it with iteration=<int>")
        return iteration >= self.warmup_iters

    def _stage1(self, outputs: Prediction, targets: List[MaskTargets],
                two_round: bool) -> 'OrderedDict[str, Tensor]':
        predictions = self._predictions(outputs, 'outputs', batch=len(targets),
                                        frames=targets[0].masks.shape[1],
                                        device=targets[0].masks.device)
        num_masks, = self._num_masks([sum(len(t.labels) for t in targets)], targets[0].masks.device)
        losses = OrderedDict()
        for suffix, logits, masks in predictions:
            first, second = self.matcher(logits, masks, targets, self.rand)
            if two_round:
                raw = self._two_round_losses(logits, masks, targets, first, second, num_masks)
                weights = self.loss_weights
            else:
                ce = self._class_loss(logits, targets, first)
                mask, dice = self._point_losses(masks, targets, first, num_masks)
                raw = dict(loss_ce=ce, loss_mask=mask, loss_dice=dice)
                weights = self.warmup_loss_weights
            losses.update((key + suffix, raw[key] * weight) for key, weight in weights.items())
        return losses

    def _stage2(self, outputs: Tuple[Prediction, Prediction],
                targets: List[MaskTargets]) -> 'OrderedDict[str, Tensor]':
        batch, num_frames, device = len(targets), targets[0].masks.shape[1], targets[0].masks.device
        clip = self._predictions(outputs[0], 'clip outputs', batch=batch, frames=num_frames,
                                 device=device)
        frame = self._predictions(outputs[1], 'frame outputs', batch=batch * num_frames, frames=1,
                                  device=device)
        if len(clip) != len(frame) or clip[0][1].shape[1] != frame[0][1].shape[1]:
            raise ValueError(f'clip outputs have {clip[0][1].shape[1]} queries and {len(clip) - 1} '
                             f'aux_outputs, frame outputs {frame[0][1].shape[1]} and '
                             f'{len(frame) - 1}; expected the same numbers')
        # The matching takes the class logits of the clip queries and the masks of the frame
        # queries, restacked (B, Q, T, h, w); its pairs drive both branches (original behaviour).
        # All matcher draws come first (the original's order), so every matching of the step is
        # computed together: the cost matrices reach the host in one transfer.
        pairs = [(logits, frame_masks[:, :, 0].unflatten(0, (batch, num_frames)).transpose(1, 2))
                 for (_, logits, _), (_, _, frame_masks) in zip(clip, frame)]
        if hasattr(self.matcher, 'match_many'):
            matchings = self.matcher.match_many(pairs, targets, self.rand)
        else:  # a replaced matcher (a callable)
            matchings = [self.matcher(logits, masks, targets, self.rand) for logits, masks in pairs]
        per_frame = frame_targets(targets)
        num_masks, num_masks_frame = self._num_masks(
            [sum(len(t.labels) for t in targets), sum(len(t.labels) for t in per_frame)],
            device)
        losses = OrderedDict()
        for (suffix, logits, masks), (first, second) in zip(clip, matchings):
            raw = self._two_round_losses(logits, masks, targets, first, second, num_masks)
            losses.update((key + suffix, raw[key] * weight)
                          for key, weight in self.loss_weights.items())
        for (suffix, logits, masks), (first, second) in zip(frame, matchings):
            first = [pair for pair in first for _ in range(num_frames)]
            second = [pair for pair in second for _ in range(num_frames)]
            raw = self._two_round_losses(logits, masks, per_frame, first, second, num_masks_frame)
            losses.update((key + suffix + '_aux', raw[key] * weight * self.aux_weight)
                          for key, weight in self.loss_weights.items())
        return losses

    def _predictions(self, outputs: Prediction, name: str, batch: int, frames: int,
                     device: torch.device) -> List[Tuple[str, Tensor, Tensor]]:
        """``[(suffix, logits, masks)]`` in float32: the final prediction, then the aux ones."""
        for key in ('pred_logits', 'pred_masks'):
            if key not in outputs:
                raise KeyError(f'{name} need the key {key!r}; got keys {sorted(outputs)}')
        predictions = [('', outputs['pred_logits'], outputs['pred_masks'])]
        if self.deep_supervision:
            aux = outputs.get('aux_outputs', [])
            if len(aux) != self.dec_layers - 1:
                raise ValueError(f'{name} have {len(aux)} aux_outputs; with deep_supervision and '
                                 f'dec_layers={self.dec_layers} expected {self.dec_layers - 1}')
            predictions += [(f'_{i}', p['pred_logits'], p['pred_masks']) for i, p in enumerate(aux)]
        for suffix, logits, masks in predictions:
            if (logits.dim() != 3 or masks.dim() != 5 or logits.shape[0] != batch
                    or logits.shape[2] != self.num_classes + 1
                    or masks.shape[:2] != logits.shape[:2]
                    or masks.shape[2] != frames):
                raise ValueError(
                    f'{name}{suffix or " (final)"}: expected pred_logits ({batch}, Q, '
                    f'{self.num_classes + 1}) and pred_masks ({batch}, Q, {frames}, h, w), got '
                    f'{tuple(logits.shape)} and {tuple(masks.shape)}')
            if logits.device != device or masks.device != device:
                raise ValueError(f'{name}{suffix or " (final)"} are on {masks.device}, the ground '
                                 f'truth on {device}; expected the same device')
        return [(suffix, logits.float(), masks.float()) for suffix, logits, masks in predictions]

    @staticmethod
    def _num_masks(counts: List[int], device: torch.device) -> List[float]:
        """Target counts averaged over processes, each clamped to >= 1 (one all_reduce)."""
        num = torch.as_tensor(counts, dtype=torch.float, device=device)
        world_size = 1
        if dist.is_available() and dist.is_initialized():
            dist.all_reduce(num)
            world_size = dist.get_world_size()
        return torch.clamp(num / world_size, min=1).tolist()

    def _two_round_losses(self, logits: Tensor, masks: Tensor, targets: List[MaskTargets],
                          first: Pairs, second: Pairs, num_masks: float) -> Dict[str, Tensor]:
        both = [(torch.cat([q1, q2]), torch.cat([k1, k2]))
                for (q1, k1), (q2, k2) in zip(first, second)]
        ce = self._class_loss(logits, targets, both)
        mask, dice = self._point_losses(masks, targets, first, num_masks)
        mask_secondary, dice_secondary = self._secondary_losses(masks, targets, second, num_masks)
        return dict(loss_ce=ce, r0_loss_mask=mask, r0_loss_dice=dice,
                    r1_loss_mask_unmatched=mask_secondary, r1_loss_dice_unmatched=dice_secondary)

    def _class_loss(self, logits: Tensor, targets: List[MaskTargets], pairs: Pairs) -> Tensor:
        classes = torch.full(logits.shape[:2], self.num_classes, dtype=torch.int64,
                             device=logits.device)
        for b, ((queries, indices), target) in enumerate(zip(pairs, targets)):
            classes[b, queries] = target.labels[indices]
        return F.cross_entropy(logits.transpose(1, 2), classes, weight=self.empty_weight.float())

    @staticmethod
    def _matched(masks: Tensor, targets: List[MaskTargets], pairs: Pairs) -> Tuple[Tensor, Tensor]:
        """Matched predictions and targets, (M, T, h, w) and (M, T, H, W), batch by batch."""
        predicted = THEMaskCriterion._gather([masks[b, queries]
                                              for b, (queries, _) in enumerate(pairs)])
        wanted = THEMaskCriterion._gather([target.masks[indices]
                                           for target, (_, indices) in zip(targets, pairs)])
        return predicted, wanted

    def _point_losses(self, masks: Tensor, targets: List[MaskTargets], pairs: Pairs,
                      num_masks: float) -> Tuple[Tensor, Tensor]:
        """BCE and dice of the primary queries on importance-sampled points."""
        num_frames = masks.shape[2]
        predicted, wanted = self._matched(masks, targets, pairs)
        # Every (mask, frame) is its own sample. Ignored pixels are 0 in the targets, so they are
        # negatives here (original behaviour).
        predicted, wanted = predicted.flatten(0, 1)[:, None], wanted.flatten(0, 1)[:, None]
        with torch.no_grad():
            coords = uncertain_point_coords(
                predicted, num_points=self.num_points, oversample_ratio=self.oversample_ratio,
                importance_sample_ratio=self.importance_sample_ratio, rand=self.rand)
            labels = point_sample(wanted, coords)[:, 0]
        logits = point_sample(predicted, coords)[:, 0]
        return (sigmoid_bce_loss(logits, labels, num_masks, num_frames),
                dice_loss(logits, labels, num_masks, num_frames))

    def _secondary_losses(self, masks: Tensor, targets: List[MaskTargets], pairs: Pairs,
                          num_masks: float) -> Tuple[Tensor, Tensor]:
        """BCE and dice of the secondary queries at full resolution, against a self-made target.

        The original upsamples each prediction to the ground-truth size (nearest) and takes BCE
        and dice there, against ``GT AND sigmoid(upsampled) > 0.5``. Every full-resolution pixel
        copies one prediction pixel (a cell), so both are computed here on the prediction grid: a
        cell with ``n`` copies of which ``g`` are ground truth contributes ``n * BCE(x, 0) - s g x``
        and ``s g sigmoid(x)``, ``n sigmoid(x)``, ``s g`` to the dice sums (``s`` = sigmoid(x) >
        0.5). The same losses and gradients up to float rounding (sums in another order), without
        the full-resolution maps; ``n`` and ``g`` come from the targets once per step. Reference
        mode computes them as the original, at full resolution.
        """
        if not fast_mode():
            return self._secondary_losses_full_resolution(masks, targets, pairs, num_masks)
        num_frames = masks.shape[2]
        size = masks.shape[-2:]
        predicted = self._gather([masks[b, queries] for b, (queries, _) in enumerate(pairs)])
        cells, copies = zip(*(self._cell_counts(target, size) for target in targets))
        gt_count = self._gather([cell[indices] for cell, (_, indices) in zip(cells, pairs)])
        copies = copies[0].flatten()  # (h*w,), the same for every target (one ground-truth size)
        full_pixels = targets[0].masks.shape[-2] * targets[0].masks.shape[-1]
        logits = predicted.flatten(0, 1).flatten(1)
        probs = logits.sigmoid()
        positive = gt_count.flatten(0, 1).flatten(1) * (probs.detach() > 0.5)
        bce = F.binary_cross_entropy_with_logits(logits, positive / copies.clamp(min=1),
                                                 weight=copies, reduction='none')
        bce_loss = (bce.sum(1) / full_pixels).sum() / num_masks / num_frames
        numerator = 2 * (probs * positive).sum(-1)
        denominator = (probs * copies).sum(-1) + positive.sum(-1)
        dice = (1 - (numerator + 1) / (denominator + 1)).sum() / num_masks / num_frames
        return bce_loss, dice

    def _secondary_losses_full_resolution(self, masks: Tensor, targets: List[MaskTargets],
                                          pairs: Pairs, num_masks: float) -> Tuple[Tensor, Tensor]:
        """The original's computation of :meth:`_secondary_losses` (reference mode)."""
        num_frames = masks.shape[2]
        predicted, wanted = self._matched(masks, targets, pairs)
        predicted = F.interpolate(predicted, size=wanted.shape[-2:], mode='nearest')
        # The original's target: the ground truth restricted to where the prediction itself is
        # already above 0.5 (255 pixels are outside every ground truth, hence negatives).
        self_target = ((wanted > 0) & (predicted.sigmoid() > 0.5)).float()
        logits, labels = predicted.flatten(0, 1).flatten(1), self_target.flatten(0, 1).flatten(1)
        return (sigmoid_bce_loss(logits, labels, num_masks, num_frames),
                dice_loss(logits, labels, num_masks, num_frames))

    def _cell_counts(self, target: MaskTargets, size) -> Tuple[Tensor, Tensor]:
        """For nearest upsampling from ``size`` to the ground-truth size: per target mask and
        frame, how many full-resolution pixels of each cell are ground truth (K, T, h, w), and
        how many pixels copy each cell (h, w). Cached for the current step."""
        key = (id(target.masks), tuple(size))
        cached = self._counts_cache.get(key)
        if cached is not None:
            return cached[1]
        full = target.masks
        index_y, index_x = (_nearest_source_index(n_in, n_out, full.device)
                            for n_in, n_out in zip(size, full.shape[-2:]))
        rows = (full.new_zeros(*full.shape[:2], size[0], full.shape[-1])
                .index_add_(2, index_y, (full > 0).float()))
        cells = full.new_zeros(*full.shape[:2], *size).index_add_(3, index_x, rows)
        copies = torch.outer(torch.bincount(index_y, minlength=size[0]),
                             torch.bincount(index_x, minlength=size[1])).float()
        # keeps ``full`` alive: its id stays unique
        self._counts_cache[key] = (full, (cells, copies))
        return cells, copies

    @staticmethod
    def _gather(parts: List[Tensor]) -> Tensor:
        return parts[0] if len(parts) == 1 else torch.cat(parts)


def _nearest_source_index(size_in: int, size_out: int, device: torch.device) -> Tensor:
    """The input index each output index copies under ``F.interpolate(mode='nearest')``."""
    ramp = torch.arange(size_in, dtype=torch.float32, device=device).view(1, 1, size_in, 1)
    return F.interpolate(ramp, size=(size_out, 1), mode='nearest').view(-1).long()
