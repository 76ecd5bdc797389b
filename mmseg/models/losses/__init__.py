"""The THE-Mask training objective (registered in ``LOSSES`` as ``THEMaskCriterion``)."""
from .criterion import THEMaskCriterion
from .matcher import TwoRoundHungarianMatcher
from .point_sample import point_sample, uncertain_point_coords
from .targets import MaskTargets, clip_targets, frame_targets

__all__ = ['THEMaskCriterion', 'TwoRoundHungarianMatcher', 'point_sample', 'uncertain_point_coords',
           'MaskTargets', 'clip_targets', 'frame_targets']
