from .inference import inference_segmentor, init_segmentor
from .test import test_segmentor
from .train import init_training_env, train_segmentor

__all__ = ['inference_segmentor', 'init_segmentor', 'test_segmentor', 'init_training_env', 'train_segmentor']
