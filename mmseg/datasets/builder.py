"""Dataset registries; ``build_dataset`` and ``build_dataloader`` arrive with the data issue."""
from ..utils.registry import Registry

DATASETS = Registry('dataset')
PIPELINES = Registry('pipeline')
