"""The merged configs are the ones the restructuring started from, value for value.

``tests/data/config_snapshot.json`` holds every shipped THE-Mask config after ``_base_`` merging, as
it was before the configs were split into per-stage bases; ``tests/data/config_snapshot_added.json``
the configs added since (the Cityscapes variants), as first shipped. Deliberate changes since are
listed in ``CHANGED`` (dotted key -> (value then, value now)); everything else must be equal.
"""
import glob
import json
import os

import pytest

from mmseg.utils.config import load_config

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SNAPSHOTS = [os.path.join(ROOT, 'tests', 'data', name)
             for name in ('config_snapshot.json', 'config_snapshot_added.json')]
CONFIGS = sorted(glob.glob(os.path.join(ROOT, 'local_configs', 'themask', '*.py')))
CHANGED = {
    # measured: every trainable parameter receives a gradient in both stages
    'find_unused_parameters': (True, False),
    # a lost process stops the others after this many seconds (absent before)
    'dist_params.timeout': (None, 1800),
    # new options, off by default: torch.compile and activation checkpointing
    'compile': (None, False),
    'model.backbone.with_cp': (None, False),
    'model.decode_head.pixel_decoder_cfg.with_cp': (None, False),
    'model.decode_head.transformer_decoder_cfg.with_cp': (None, False),
}
# per config: the quickstart's schedule, lengthened within its time budget (issue 14)
CHANGED_IN = {
    '1f_themask_mit_b0_synthetic.py': {'runner.max_iters': (1350, 2400),
                                       'checkpoint_config.interval': (450, 800),
                                       'evaluation.interval': (1350, 2400)},
    'video_themask_mit_b0_synthetic.py': {'runner.max_iters': (800, 1400),
                                          'checkpoint_config.interval': (400, 700),
                                          'evaluation.interval': (800, 1400)},
}


def plain(cfg):
    return json.loads(json.dumps(cfg.to_dict(), sort_keys=True, default=repr))


def set_path(tree, dotted, value):
    *parents, last = dotted.split('.')
    for part in parents:
        tree = tree[part]
    tree[last] = value


def load_snapshots():
    snapshot = {}
    for path in SNAPSHOTS:
        with open(path) as f:
            found = json.load(f)
        assert not set(found) & set(snapshot), 'a config is in both snapshots'
        snapshot.update(found)
    return snapshot


def test_every_shipped_config_is_in_the_snapshot():
    assert sorted(load_snapshots()) == sorted(os.path.basename(p) for p in CONFIGS)
    # VSPW: 12 variants (b0-b5, two stages) and two synthetic configs; Cityscapes: 8 variants (b0,
    # b1, b2, b5, two stages) and two synthetic configs
    assert len(CONFIGS) == 24


@pytest.mark.parametrize('path', CONFIGS, ids=os.path.basename)
def test_merged_config_equals_the_snapshot(path):
    expected = load_snapshots()[os.path.basename(path)]
    for key, (then, now) in {**CHANGED, **CHANGED_IN.get(os.path.basename(path), {})}.items():
        set_path(expected, key, now)
    assert plain(load_config(path)) == expected
