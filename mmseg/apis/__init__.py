from .inference import inference_segmentor, init_segmentor
from .test import inference_on_dataset
from .train import init_training_env, train_segmentor

__all__ = ['inference_segmentor', 'init_segmentor', 'inference_on_dataset', 'init_training_env', 'train_segmentor']
