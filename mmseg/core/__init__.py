from .runner import HOOKS, OPTIMIZERS

__all__ = ['HOOKS', 'OPTIMIZERS']
