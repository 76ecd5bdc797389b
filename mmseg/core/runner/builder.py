"""Registries of the training engine."""
from ...utils.registry import Registry

HOOKS = Registry('hook')
OPTIMIZERS = Registry('optimizer')
