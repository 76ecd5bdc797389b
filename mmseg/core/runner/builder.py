"""Registries of the training engine: hooks, and every ``torch.optim`` optimizer by its class
name."""
import inspect

import torch

from ...utils.registry import Registry

HOOKS = Registry('hook')
OPTIMIZERS = Registry('optimizer')


def _register_torch_optimizers() -> None:
    for name, cls in vars(torch.optim).items():
        if (inspect.isclass(cls) and issubclass(cls, torch.optim.Optimizer)
                and cls is not torch.optim.Optimizer):
            OPTIMIZERS.register_module(name=name, module=cls)


_register_torch_optimizers()
