"""The error types of wrong input: every layer raises them, ``mmseg.utils.cli`` turns them into
one line.

``UserError`` marks an error whose message names the wrong input (a config key or value, a flag, a
file, a piece of data) and says what was expected. Each subclass also derives from the built-in
exception a caller would expect (``ValueError``, ``KeyError``, ...), so ``except ValueError`` keeps
working.
"""
import pickle

__all__ = ['UserError', 'ConfigError', 'ConfigKeyError', 'UsageError', 'DataError',
           'UnknownTypeError', 'CheckpointError', 'UnsafeCheckpointError', 'NonFiniteLossError',
           'LostProcessError']


class UserError(Exception):
    """An error caused by the input; its message is meant for the person who gave it."""


class ConfigError(UserError, ValueError):
    """A config file or an override is wrong; the message says which key and what was expected."""


class ConfigKeyError(ConfigError, KeyError):
    """A config entry holds keys this codebase does not support (also a ``KeyError``)."""

    def __str__(self) -> str:  # KeyError would print the message quoted
        return str(self.args[0])


class UsageError(UserError, ValueError):
    """Arguments that cannot work together, or an output path that cannot be written."""


class DataError(UserError, ValueError):
    """A file of the dataset is missing or does not hold what the dataset layout expects."""


class UnknownTypeError(UserError, KeyError):
    """A config asked for a ``type`` that no module registered."""

    def __str__(self) -> str:  # KeyError would print the message quoted
        return str(self.args[0])


class CheckpointError(UserError, ValueError):
    """A checkpoint cannot be read, or does not fit the model it is loaded into."""


class UnsafeCheckpointError(UserError, pickle.UnpicklingError):
    """A checkpoint needs arbitrary unpickling, which could run code; it was not loaded."""


class NonFiniteLossError(UserError, FloatingPointError):
    """A loss term was NaN or Inf (``nonfinite_loss='raise'``); no step was taken."""


class LostProcessError(UserError, RuntimeError):
    """Another process of a distributed run stopped or became unreachable; this one stopped too."""
