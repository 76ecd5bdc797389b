from .evaluator import METRICS, VideoSegEvaluator, format_results_table
from .metrics import confusion_matrix, summarize_confusion
from .result_writers import blend_overlay, write_label_png, write_overlay
from .sparse_labels import SPARSE_VC_NOTE, SparseLabelEvaluator
from .video_consistency import VideoConsistency
from .visualize import show_result

__all__ = ['METRICS', 'VideoSegEvaluator', 'format_results_table', 'confusion_matrix',
           'summarize_confusion', 'blend_overlay', 'write_label_png', 'write_overlay',
           'VideoConsistency', 'show_result', 'SPARSE_VC_NOTE', 'SparseLabelEvaluator']
