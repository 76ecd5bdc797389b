"""Evaluation (``mmseg.core.evaluation``) and the training engine (``mmseg.core.runner``).

The two are independent: importing the evaluation does not load the engine.
"""
