from .builder import HOOKS, OPTIMIZERS

__all__ = ['HOOKS', 'OPTIMIZERS']
