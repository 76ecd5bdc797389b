import os

import pytest

# Under pytest-xdist (the README's `-n 2`) each worker computes with one thread, and so do the
# processes the tests start: the workers share the cores instead of oversubscribing them.
if os.environ.get('PYTEST_XDIST_WORKER'):
    os.environ['OMP_NUM_THREADS'] = os.environ['MKL_NUM_THREADS'] = '1'


def pytest_configure(config):
    if os.environ.get('PYTEST_XDIST_WORKER'):
        import torch
        torch.set_num_threads(1)

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# Golden outputs of the original implementation (tests/data/golden/README.md says how they
# were made).
GOLDEN_DIR = os.environ.get('THEMASK_GOLDEN_DIR',
                            os.path.join(REPO_ROOT, 'tests', 'data', 'golden'))


@pytest.fixture(scope='session')
def repo_root():
    return REPO_ROOT


# The synthetic dataset the tool tests share: 8 videos (5 train, 2 val with 6 and 18 frames, so VC
# skips one and scores the other, 1 test) of 96x128 frames. Tests that damage data copy it first.
SYNTHETIC_VSPW = dict(videos=8, frames=(6, 18), size=(96, 128))


@pytest.fixture(scope='session')
def synthetic_vspw(tmp_path_factory):
    """Root (a ``pathlib.Path``) of the synthetic VSPW-layout dataset, generated once per session.

    Treat it as read-only: a test that modifies data copies it (``shutil.copytree``) first.
    """
    from mmseg.datasets.synthetic_vspw import make_synthetic_vspw
    root = tmp_path_factory.mktemp('synthetic_vspw') / 'vspw'
    make_synthetic_vspw(str(root), **SYNTHETIC_VSPW)
    return root


# The options that train the synthetic stage-2 config as the README's stage 2 does (two-frame clips,
# dilation [-3]) in a few seconds.
README_STAGE2 = ['model.decode_head.transformer_decoder_cfg.num_frames=2',
                 'data.train.dataset.dilation=[-3]', 'data.workers_per_gpu=0',
                 'model.decode_head.loss_cfg.train_num_points=256',
                 'runner.max_iters=2', 'checkpoint_config.interval=2']


@pytest.fixture(scope='session')
def trained_stage2(tmp_path_factory, synthetic_vspw):
    """``latest.pth`` of the synthetic stage-2 config trained 2 iterations with the README's stage-2
    options on :func:`synthetic_vspw` (through tools/train.py in this process), once per session.

    Treat it as read-only; its training config (dilation [-3]) is in its meta.
    """
    from mmseg.utils.cli import run_cli
    from tool_runs import process_state_kept, tool_main
    work = tmp_path_factory.mktemp('trained_stage2') / 'stage2'
    with process_state_kept():
        run_cli(tool_main('train'), [
            os.path.join(REPO_ROOT, 'local_configs/themask/video_themask_mit_b0_synthetic.py'),
            '--work-dir', str(work), '--seed', '0', '--no-validate', '--options',
            f'data.train.dataset.data_root={synthetic_vspw}', *README_STAGE2])
    return work / 'latest.pth'


# The synthetic Cityscapes-format dataset the tests share: train 2 cities x 2 snippets, val 1 city
# x 2 snippets, 30 frames of 64x128 each, labelIds on the 20th frame and their labelTrainIds.
SYNTHETIC_CITYSCAPES = dict(cities=(2, 1), snippets=2, size=(64, 128))


@pytest.fixture(scope='session')
def synthetic_cityscapes(tmp_path_factory):
    """Root (a ``pathlib.Path``) of the synthetic Cityscapes-layout dataset with its trainIds
    labels, generated once per session. Treat it as read-only (copy it to modify it)."""
    from mmseg.datasets.cityscapes_convert import convert_label_ids
    from mmseg.datasets.synthetic_cityscapes import make_synthetic_cityscapes
    root = tmp_path_factory.mktemp('synthetic_cityscapes') / 'cityscapes'
    make_synthetic_cityscapes(str(root), **SYNTHETIC_CITYSCAPES)
    convert_label_ids(str(root), progress=False)
    return root


def unpack_golden_state_dict(golden: dict, stage: str) -> dict:
    """The golden file's state_dict of ``stage`` with int8 entries expanded (see its README)."""
    import torch

    def unpack(entry):
        exps = entry['state_dict_int8_exp2']
        return {k: (v.float() * 2.0 ** exps[k] if v.dtype == torch.int8 else v)
                for k, v in entry['state_dict'].items()}

    state = unpack(golden[stage])
    if stage == 'stage1':  # keys equal to stage 2's are stored once, in stage 2
        shared = unpack(golden['stage2'])
        for key in golden['stage1']['keys_identical_to_stage2']:
            state.setdefault(key, shared[key])
    return state


@pytest.fixture(scope='session')
def golden():
    """The original's forward outputs on tiny models (tests/data/golden/README.md)."""
    import torch
    return torch.load(os.path.join(GOLDEN_DIR, 'themask_tiny_golden.pt'), weights_only=True)


@pytest.fixture(scope='session')
def train_golden():
    """The original's training losses, matchings and random draws on the same tiny models."""
    import torch
    return torch.load(os.path.join(GOLDEN_DIR, 'themask_tiny_train_golden.pt'), weights_only=True)


@pytest.fixture(scope='session')
def golden_models(golden):
    """{'stage1': model, 'stage2': model} built from the golden configs, weights loaded strictly."""
    from mmseg.models import build_segmentor
    models = {}
    for stage in ('stage1', 'stage2'):
        model = build_segmentor(golden[f'model_cfg_{stage}'])
        model.load_state_dict(unpack_golden_state_dict(golden, stage), strict=True)
        models[stage] = model.eval()
    return models


@pytest.fixture
def mmseg_caplog(caplog):
    """``caplog`` that also sees the ``mmseg`` logger (which does not propagate to the root)."""
    import logging
    logger = logging.getLogger('mmseg')
    level = logger.level
    logger.addHandler(caplog.handler)
    logger.setLevel(logging.DEBUG)
    yield caplog
    logger.removeHandler(caplog.handler)
    logger.setLevel(level)


@pytest.fixture
def list_logger():
    """A logger of its own that keeps every message in ``.lines`` (for load and finetune
    reports)."""
    import logging

    class ListHandler(logging.Handler):
        def emit(self, record):
            log.lines.append(record.getMessage())

    log = logging.getLogger('themask_tests')
    log.setLevel(logging.INFO)
    log.propagate = False
    log.lines = []
    handler = ListHandler()
    log.addHandler(handler)
    yield log
    log.removeHandler(handler)
