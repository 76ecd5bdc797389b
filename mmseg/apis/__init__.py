from ..core.evaluation.visualize import show_result
from .inference import inference_segmentor, init_segmentor
from .online import OnlineSegmenter
from .onnx_runtime import init_onnx_segmentor
from .publish import publish_model
from .test import inference_on_dataset, test_from_config
from .train import init_training_env, train_from_config, train_segmentor

__all__ = ['inference_segmentor', 'init_segmentor', 'OnlineSegmenter', 'init_onnx_segmentor',
           'publish_model', 'inference_on_dataset', 'test_from_config', 'init_training_env',
           'train_from_config', 'train_segmentor', 'show_result']
