"""``THEMask1fHead``: stage 1, one query set (Video Mask2Former decoder) on single-frame clips."""
import torch

from ..builder import HEADS
from .themask_base_head import THEMaskBaseHead, semantic_inference


@HEADS.register_module()
class THEMask1fHead(THEMaskBaseHead):
    """Stage-1 head; the criterion switches from one-to-one to two-round matching after warm-up."""

    criterion_stage = 1

    def semantic_map(self, outputs) -> torch.Tensor:
        return semantic_inference(outputs['pred_logits'], outputs['pred_masks'])
