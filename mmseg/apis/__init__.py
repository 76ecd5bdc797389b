from ..core.evaluation.visualize import show_result
from .inference import inference_segmentor, init_segmentor
from .online import OnlineSegmenter
from .test import inference_on_dataset, test_from_config
from .train import init_training_env, train_from_config, train_segmentor

__all__ = ['inference_segmentor', 'init_segmentor', 'OnlineSegmenter', 'inference_on_dataset',
           'test_from_config', 'init_training_env', 'train_from_config', 'train_segmentor',
           'show_result']
