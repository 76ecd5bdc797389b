"""Registries of the training engine: hooks, and every ``torch.optim`` optimizer by its class name."""
import inspect

import torch

from ...utils.registry import Registry

HOOKS = Registry('hook')
OPTIMIZERS = Registry('optimizer')

for _name, _cls in vars(torch.optim).items():
    if inspect.isclass(_cls) and issubclass(_cls, torch.optim.Optimizer) and _cls is not torch.optim.Optimizer:
        OPTIMIZERS.register_module(name=_name, module=_cls)
