"""The MSDeformAttn pixel decoder; its multi-scale deformable attention op is in ``ops/``."""
