"""Version of the THE-Mask codebase (the package keeps mmsegmentation's import name ``mmseg``)."""

__version__ = '1.0.0'
