"""``THEMaskHead``: stage 2, the temporal aggregation decoder with clip and frame queries."""
import torch

from ..builder import HEADS
from .themask_base_head import THEMaskBaseHead, semantic_inference


@HEADS.register_module()
class THEMaskHead(THEMaskBaseHead):
    """Stage-2 head; at test time each frame's map is 0.5 * frame branch + 0.5 * clip branch."""

    criterion_stage = 2

    def semantic_map(self, outputs) -> torch.Tensor:
        clip, frame = outputs
        return (semantic_inference(frame['pred_logits'], frame['pred_masks']) * 0.5
                + semantic_inference(clip['pred_logits'], clip['pred_masks']) * 0.5)
