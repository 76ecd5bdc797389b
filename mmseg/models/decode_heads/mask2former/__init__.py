"""Mask2Former-style components of the THE-Mask heads: the pixel decoder and its compiled op."""
