"""Every tool in tools/ answers bad input with one line naming what is wrong, and no traceback.

Table-driven: each row is (tool, arguments, expected fragment of the message). Rows run in this
process (the tool's ``main`` under :func:`mmseg.utils.cli.run_cli`, as its ``__main__`` does), so
a traceback would surface as an exception instead of ``SystemExit``. User errors exit with 1 and one
``error: ...`` line; argparse errors exit with 2 and usage plus one ``error: argument ...`` line.
The shell launchers (dist_train.sh / dist_test.sh) are covered in test_dist_scripts_errors.py.
"""
import importlib.util
import json
import os

import pytest
import torch

from mmseg.models import build_segmentor
from mmseg.utils.cli import run_cli
from mmseg.utils.config import load_config
from tool_runs import run_tool, tool_main

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
STAGE1 = os.path.join(ROOT, 'local_configs/themask/1f_themask_mit_b0_synthetic.py')
STAGE2 = os.path.join(ROOT, 'local_configs/themask/video_themask_mit_b0_synthetic.py')
TOOLS = ['analyze_logs', 'benchmark', 'benchmark_data', 'benchmark_eval_memory', 'benchmark_msda',
         'benchmark_online', 'browse_dataset', 'check_dataset', 'confusion_matrix',
         'convert_checkpoint', 'convert_datasets/cityscapes', 'deploy_test', 'export', 'get_flops',
         'make_synthetic_cityscapes', 'make_synthetic_vspw', 'make_toy_dataset', 'print_config',
         'publish_model', 'test', 'train', 'video_demo']
HAS_ONNXRUNTIME = importlib.util.find_spec('onnxruntime') is not None


@pytest.fixture(scope='module')
def paths(tmp_path_factory):
    """Small inputs: a dataset, a stage-1 checkpoint, a JSON log, a non-checkpoint file, a plain
    file."""
    from mmseg.datasets.synthetic_vspw import make_synthetic_vspw
    root = tmp_path_factory.mktemp('cli_errors')
    data = root / 'data'
    make_synthetic_vspw(str(data), videos=3, size=(32, 48), frames=(2, 3))
    cfg = load_config(STAGE1)
    cfg.model.pretrained = None
    torch.manual_seed(0)
    torch.save({'state_dict': build_segmentor(cfg.model).state_dict()}, root / 'stage1.pth')
    (root / 'afile').write_text('a file, not a folder')
    (root / 'text.onnx').write_text('not an ONNX model')
    (root / 'clip.mp4').write_bytes(b'\x00\x00\x00\x18ftypmp42' + bytes(range(256)) * 4)
    log = [{'env_info': 'x'},
           {'mode': 'train', 'iter': 1, 'time': 0.5, 'decode.loss_ce': 1.0, 'loss': 2.0},
           {'mode': 'train', 'iter': 2, 'time': 0.5, 'decode.loss_ce': 1.0, 'loss': 2.0}]
    (root / 'run.log.json').write_text('\n'.join(json.dumps(r) for r in log) + '\n')
    (root / 'not_json.log.json').write_text('Iter [1/2] loss: 2.0\n')
    (root / 'full').mkdir()
    (root / 'full' / 'old.txt').write_text('stale')
    (root / 'syntax.py').write_text("_base_ = ['x.py']\nmodel = dict(type='EncoderDecoder_clips'\n")
    (root / 'script.py').write_text("import sys\n\nif __name__ == '__main__':\n"
                                    "    print(sys.argv)\n")
    return dict(data=str(data), ckpt1=str(root / 'stage1.pth'), afile=str(root / 'afile'),
                mp4=str(root / 'clip.mp4'), log=str(root / 'run.log.json'), tmp=str(root),
                notjson=str(root / 'not_json.log.json'), full=str(root / 'full'), s1=STAGE1,
                s2=STAGE2, syntax=str(root / 'syntax.py'), script=str(root / 'script.py'),
                text_onnx=str(root / 'text.onnx'))


DATA = ['--options', 'data.test.data_root={data}', 'data.workers_per_gpu=0']
NO_DATA = ['--options', 'data.test.data_root={tmp}/absent', 'data.workers_per_gpu=0']
TRAIN_DATA = ['--options', 'data.train.dataset.data_root={data}', 'data.workers_per_gpu=0']
UNWRITABLE = '{afile}/sub/out.json'  # a path below a file can never be created

ROWS = [
    # tools/test.py
    ('test', ['{tmp}/absent.py', '{ckpt1}'], "config file '"),
    ('test', ['{s1}', '{tmp}/absent.pth', *DATA], "tools/test.py checkpoint: checkpoint file '"),
    ('test', ['{s2}', '{mp4}', *DATA], 'is not a PyTorch checkpoint'),
    ('test', ['{s2}', '{ckpt1}', *DATA], 'stage-1 (1f_*) checkpoint used with a stage-2'),
    ('test', ['{s2}', '{ckpt1}', *DATA], '--allow-partial-load loads it anyway'),
    # before the data is read
    ('test', ['{s1}', '{ckpt1}', '--out', UNWRITABLE, *NO_DATA], '--out '),
    ('test', ['{s1}', '{ckpt1}', '--out', '{tmp}', '--eval', 'mIoU', *NO_DATA],
     'is a directory; expected a file'),
    ('test', ['{s1}', '{ckpt1}', '--show-dir', '{afile}', *NO_DATA], "--show-dir '"),
    ('test', ['{s1}', '{ckpt1}', '--format-only', '--eval-options', 'imgfile_prefix={afile}/x',
              *NO_DATA],
     'imgfile_prefix'),
    ('test', ['{s1}', '{ckpt1}', '--options', 'data.test.test_size=0'],
     'data.test.test_size=0: expected an integer >= 1'),
    ('test', ['{s1}', '{ckpt1}', '--options', 'data.test.test_size=-1'],
     'data.test.test_size=-1: expected an integer >= 1'),
    ('test', ['{s1}', '{ckpt1}', '--options', 'data.test.test_gap=0'], 'data.test.test_gap=0'),
    ('test', ['{s1}', '{ckpt1}', '--eval-options', 'vc=raw', *NO_DATA],
     "--eval-options: unknown key 'vc'"),
    ('test', ['{s1}', '{ckpt1}', '--eval-options', 'vc_gt=exact', *NO_DATA], 'vc_gt'),
    ('test', ['{s1}', '{ckpt1}', '--eval', 'mIOU', *NO_DATA], "unknown metrics ['mIOU']"),
    ('test', ['{s1}', '{ckpt1}', '--opacity', '2', *NO_DATA], '--opacity must be in (0, 1]'),
    ('test', ['{s1}', '{ckpt1}', '--opacity', 'half'], 'argument --opacity: invalid float value'),
    ('test', ['{s1}', '{ckpt1}', '--format-only'],
     '--format-only needs --eval-options imgfile_prefix'),
    ('test', ['{s1}', '{ckpt1}', '--options', 'runner.max_iters'],
     'argument --options/--cfg-options: expected KEY=VALUE'),
    ('test', ['{s1}', '{ckpt1}', '--options', 'data.test.test_size=[1,2'],
     'argument --options/--cfg-options: cannot parse'),
    ('test', ['{s1}', '{ckpt1}', '--options', 'data.test.test_sise=2'],
     'Did you mean data.test.test_size?'),
    ('test', ['{s1}', '{ckpt1}', '--launcher', 'mpi'],
     "argument --launcher: invalid choice: 'mpi'"),
    ('test', ['{s1}', '{ckpt1}', '--log-level', 'LOUD'], "argument --log-level: invalid choice"),
    ('test', ['{s1}', '{ckpt1}', '--local_rank', 'x'],
     'argument --local_rank/--local-rank: invalid int value'),
    ('test', ['{ckpt1}', '{s1}'], 'is a checkpoint, not a config file'),  # the two swapped
    ('test', ['{s1}', '{s2}', *DATA], 'is a config file, not a checkpoint'),
    ('test', ['{syntax}', '{ckpt1}'], "syntax.py', line 2: syntax error: '(' was never closed"),
    ('test', ['{script}', '{ckpt1}'], 'script.py\' is not a config file'),
    ('test', ['{s1}', '{ckpt1}', '--options', 'data.workers_per_gpu=-1'],
     'data.workers_per_gpu=-1: expected'),
    ('test', ['{s1}', '{ckpt1}', '--out', '/proc/x.json', *NO_DATA],
     "files cannot be created in '/proc'"),
    # tools/train.py
    ('train', ['{tmp}/absent.py'], "config file '"),
    ('train', ['{s1}', '--work-dir', '{afile}/wd'], "--work-dir / work_dir '"),
    ('train', ['{s1}', '--work-dir', '{tmp}/wd1', '--load-from', '{tmp}/absent.pth'],
     '--load-from / load_from'),
    ('train', ['{s1}', '--work-dir', '{tmp}/wd1', '--resume-from', '{tmp}/absent.pth'],
     '--resume-from / resume_from'),
    ('train', ['{s1}', '--work-dir', '{tmp}/wd1', '--finetune-from', '{tmp}/absent.pth'],
     '--finetune-from'),
    ('train', ['{s1}', '--gpus', '2'], '--gpus 2: one process trains on one device'),
    ('train', ['{s1}', '--gpus', 'two'], 'argument --gpus: invalid int value'),
    ('train', ['{s1}', '--seed', 'x'], 'argument --seed: invalid int value'),
    ('train', ['{s1}', '--options', 'runner.max_iters'],
     'argument --options/--cfg-options: expected KEY=VALUE'),
    ('train', ['{s1}', '--options', 'runner.max_iters=2.5'],
     'runner.max_iters=2.5 has the wrong type: expected int'),
    ('train', ['{s1}', '--options', 'runner.max_iters=two'],
     'runner.max_iters=\'two\' has the wrong type'),
    ('train', ['{s1}', '--options', 'runner.max_iter=5'], 'Did you mean runner.max_iters?'),
    ('train', ['{s1}', '--options', 'workflow=[("val",1)]', '--work-dir', '{tmp}/wd1'],
     'workflow='),
    ('train', ['{s1}', '--launcher', 'mpi'], "argument --launcher: invalid choice: 'mpi'"),
    ('train', ['{s1}', '--gpu-ids', '0'] if not torch.cuda.is_available()
     else ['{s1}', '--gpu-ids', '0', '1'],
     'no CUDA device is available' if not torch.cuda.is_available() else '--gpu-ids takes one id'),
    ('train', ['{s1}', '--log-level', 'LOUD'], 'argument --log-level: invalid choice'),
    ('train', ['{s1}', '--work-dir', '{tmp}/wd2', '--no-validate', *TRAIN_DATA, 'amp.dtype=float8'],
     "amp.dtype must be one of ('float16', 'bfloat16')"),
    ('train', ['{s1}', '--work-dir', '{tmp}/wd2', '--no-validate', *TRAIN_DATA,
               'nonfinite_loss=ignore'],
     'nonfinite_loss must be one of'),
    ('train', ['{s1}', '--work-dir', '{tmp}/wd2', '--no-validate', *TRAIN_DATA,
               'checkpoint_config.interval=0'],
     'checkpoint_config.interval must be a positive number'),
    ('train', ['{s1}', '--work-dir', '{tmp}/wd2', '--no-validate', '--resume-from', '{mp4}',
               *TRAIN_DATA],
     "--resume-from: '"),
    ('train', ['{ckpt1}'], 'is a checkpoint, not a config file'),
    ('train', ['{s1}', '--work-dir', '{tmp}/wd2', '--load-from', '{s2}', '--no-validate',
               *TRAIN_DATA],
     'is a config file, not a checkpoint'),
    ('train', ['{syntax}'], "line 2: syntax error"),
    ('train', ['{script}'], 'is not a config file'),
    ('train', ['{s1}', '--work-dir', '{tmp}/wd2', '--options', 'data.samples_per_gpu=0'],
     'data.samples_per_gpu=0: expected clips per process in a training batch (an integer >= 1)'),
    ('train', ['{s1}', '--work-dir', '{tmp}/wd2', '--options', 'data.workers_per_gpu=-1'],
     'data.workers_per_gpu=-1: expected loader processes'),
    ('train', ['{s1}', '--work-dir', '{tmp}/wd2', '--options', '+data.sample_per_gpu=2'],
     "data has unknown keys ['sample_per_gpu']"),
    # tools/print_config.py
    ('print_config', ['{tmp}/absent.py'], "config file '"),
    ('print_config', ['{s1}', '--options', 'runner.max_iters'],
     'argument --options/--cfg-options: expected KEY=VALUE'),
    ('print_config', ['{s1}', '--options', 'runner.max_iters=1.5'],
     'runner.max_iters=1.5 has the wrong type'),
    # tools/analyze_logs.py
    ('analyze_logs', ['plot_curve', '{tmp}/absent.log.json', '--out', '{tmp}/c.png'], "log file '"),
    ('analyze_logs', ['plot_curve', '{log}', '--keys', 'loss_ce', '--out', '{tmp}/c.png'],
     'Did you mean decode.loss_ce'),
    ('analyze_logs', ['plot_curve', '{notjson}', '--out', '{tmp}/c.png'], 'is not a JSON line'),
    ('analyze_logs', ['plot_curve', '{log}', '--out', UNWRITABLE], '--out '),
    ('analyze_logs', ['plot_curve', '{log}', '--legend', 'a', 'b', '--out', '{tmp}/c.png'],
     '--legend has 2 names for 1 logs'),
    ('analyze_logs', ['plot_curve', '{log}', '--width', 'wide', '--out', '{tmp}/c.png'],
     'argument --width: expected an integer >= 1'),
    ('analyze_logs', ['plot_curve', '{log}', '--height', '0', '--out', '{tmp}/c.png'],
     'argument --height: expected an integer >= 1'),
    ('analyze_logs', ['plot_curves', '{log}'], 'argument command: invalid choice'),
    ('analyze_logs', ['cal_train_time', '{tmp}/absent.log.json'], "log file '"),
    # tools/make_synthetic_vspw.py
    ('make_synthetic_vspw', ['--out', '{tmp}/s1', '--videos', '2'],
     '--videos 2: expected at least 3'),
    ('make_synthetic_vspw', ['--out', '{tmp}/s2', '--size', '16x16'],
     '--size 16x16: expected height and width of at least 32'),
    ('make_synthetic_vspw', ['--out', '{tmp}/s3', '--size', '64'], 'argument --size: expected HxW'),
    ('make_synthetic_vspw', ['--out', '{tmp}/s4', '--frames', '5-3'],
     'argument --frames: expected MIN-MAX with MIN <= MAX'),
    ('make_synthetic_vspw', ['--out', '{tmp}/s5', '--frames', '0-3'],
     '--frames 0-3: expected MIN >= 1'),
    ('make_synthetic_vspw', ['--out', '{tmp}/s6', '--videos', 'many'],
     'argument --videos: invalid int value'),
    ('make_synthetic_vspw', ['--out', '{tmp}/s7', '--seed', 'x'],
     'argument --seed: invalid int value'),
    ('make_synthetic_vspw', ['--out', '{full}'],
     'is not empty; expected an empty or new folder (add --overwrite'),
    ('make_synthetic_vspw', ['--out', '{afile}'], 'is a file; expected a folder'),
    # tools/convert_checkpoint.py
    ('convert_checkpoint', ['{tmp}/absent.pth', '{tmp}/o.pth'], "checkpoint file '"),
    ('convert_checkpoint', ['{mp4}', '{tmp}/o.pth'], 'is not a PyTorch checkpoint'),
    ('convert_checkpoint', ['{mp4}', '{tmp}/o.pth', '--trust'], 'is not a PyTorch checkpoint'),
    ('convert_checkpoint', ['{ckpt1}'], 'the following arguments are required: dst'),
    # tools/check_dataset.py
    ('check_dataset', ['{tmp}/absent'], "dataset root '"),
    ('check_dataset', ['{data}', '--workers', 'some'],
     'argument --workers: expected an integer >= 0'),
    ('check_dataset', ['{data}', '--json', UNWRITABLE], '--json '),
    ('check_dataset', ['{data}', '--layout', 'cityscapes'],
     'has no leftImg8bit_sequence/ or gtFine/ folder'),
    ('check_dataset', ['{data}', '--layout', 'kitti'],
     "argument --layout: invalid choice: 'kitti'"),
    # tools/convert_datasets/cityscapes.py
    ('convert_datasets/cityscapes', ['{tmp}/absent'], "Cityscapes root '"),
    ('convert_datasets/cityscapes', ['{data}'], 'no *_gtFine_labelIds.png under'),
    ('convert_datasets/cityscapes', ['{data}', '--workers', '-1'],
     'argument --workers: expected an integer >= 0'),
    # tools/make_synthetic_cityscapes.py
    ('make_synthetic_cityscapes', ['--out', '{tmp}/c1', '--cities', '5', '4'],
     'expected 8 cities in all at most'),
    ('make_synthetic_cityscapes', ['--out', '{tmp}/c2', '--cities', '1'],
     'argument --cities: expected 2 argument'),
    ('make_synthetic_cityscapes', ['--out', '{tmp}/c3', '--size', '16x64'],
     '--size 16x64: expected height and width'),
    ('make_synthetic_cityscapes', ['--out', '{tmp}/c4', '--snippets', '0'],
     'argument --snippets: expected an integer'),
    ('make_synthetic_cityscapes', ['--out', '{full}'],
     'is not empty; expected an empty or new folder (add --overwrite'),
    # tools/benchmark.py
    ('benchmark', ['{s1}', '--size', '64'], 'argument --size: expected HxW'),
    ('benchmark', ['{s1}', '--device', 'cuda'] if not torch.cuda.is_available()
     else ['{s1}', '--size', 'x'],
     '--device cuda: no CUDA device' if not torch.cuda.is_available() else 'argument --size'),
    ('benchmark', ['{s1}', '--clip-len', 'two'], 'argument --clip-len: invalid int value'),
    ('benchmark', ['{tmp}/absent.py'], "config file '"),
    ('benchmark', ['{s1}', '--backend', 'tensorrt'], 'argument --backend: invalid choice'),
    ('benchmark', ['{s1}', '--options', 'runner.max_iters'],
     'argument --options/--cfg-options: expected KEY=VALUE'),
    ('benchmark', ['{s1}', '--out', UNWRITABLE], '--out '),
    # tools/benchmark_msda.py
    ('benchmark_msda', ['--sizes', '480'], 'argument --sizes: expected HxW'),
    ('benchmark_msda', ['--batch', 'two'], 'argument --batch: invalid int value'),
    ('benchmark_msda', ['--locations', 'random'], "argument --locations: invalid choice: 'random'"),
    ('benchmark_msda', ['--devices', 'cpu', '--dtype', 'float16'],
     '--dtype float16 is for CUDA only'),
    ('benchmark_msda', ['--devices', 'cpu', '--out', UNWRITABLE], '--out '),
    # tools/benchmark_data.py
    ('benchmark_data', ['--workers', '-1'], 'argument --workers: expected an integer >= 0'),
    ('benchmark_data', ['--batches', '0'], 'argument --batches: expected an integer >= 1'),
    ('benchmark_data', ['--json', UNWRITABLE], '--json '),
    # tools/browse_dataset.py
    ('browse_dataset', ['{tmp}/absent.py'], "config file '"),
    ('browse_dataset', ['{s1}', '--split', 'dev'], "argument --split: invalid choice: 'dev'"),
    ('browse_dataset', ['{s1}', '--num', '0'], '--num must be at least 1'),
    ('browse_dataset', ['{s1}', '--num', 'x'], 'argument --num: invalid int value'),
    ('browse_dataset', ['{s1}', '--out', '{afile}/m', '--options',
                        'data.train.dataset.data_root={tmp}/absent'],
     '--out '),
    ('browse_dataset', ['{s1}', '--options', 'data.train.dataset.data_root'],
     'argument --options/--cfg-options'),
    # tools/confusion_matrix.py
    ('confusion_matrix', ['{tmp}/absent.json'], "'"),
    ('confusion_matrix', ['{log}', '--max-classes', '0'], '--max-classes must be at least 1'),
    ('confusion_matrix', ['{log}', '--top', 'x'], 'argument --top: invalid int value'),
    ('confusion_matrix', ['{log}', '--out', UNWRITABLE], '--out '),
    # tools/get_flops.py
    ('get_flops', ['{tmp}/absent.py'], "config file '"),
    ('get_flops', ['{s1}', '--size', '64'], '--size must be HxW'),
    ('get_flops', ['{s1}', '--clip-len', 'x'], 'argument --clip-len: invalid int value'),
    ('get_flops', ['{s1}', '--out', UNWRITABLE], '--out '),
    ('test', ['{s1}'], 'expected CONFIG CHECKPOINT, or a folder written by tools/publish_model.py'),
    # tools/deploy_test.py
    ('deploy_test', ['{s2}', '{ckpt1}'], 'expected the .onnx clip model'),
    ('deploy_test', ['{s2}', '{tmp}/absent.onnx'], "ONNX model '"),
    ('deploy_test', ['{tmp}/absent.py', '{tmp}/absent.onnx'], "config file '"),
    ('deploy_test', ['{s2}', '{text_onnx}', '--threads', '0'], 'argument --threads'),
    *([('deploy_test', ['{s2}', '{text_onnx}'], 'is not an ONNX model ONNX Runtime can load')]
      if HAS_ONNXRUNTIME else []),
    # tools/publish_model.py
    ('publish_model', ['{tmp}/absent.pth', '{tmp}/pub'],
     "publish_model checkpoint: checkpoint file '"),
    ('publish_model', ['{ckpt1}', '{tmp}/pub'], 'carries no training config'),
    ('publish_model', ['{ckpt1}', '{tmp}/pub', '--config', '{s2}'],
     'stage-1 (1f_*) checkpoint used with'),
    ('publish_model', ['{mp4}', '{tmp}/pub'], 'is not a PyTorch checkpoint'),
    ('publish_model', ['{ckpt1}', '{full}'], 'is not empty; expected a new or empty folder'),
    ('publish_model', ['{ckpt1}', '{afile}/sub'], 'OUT_DIR '),
    # tools/export.py
    ('export', ['{s1}', 'none', '--out', '{tmp}/m.onnx', '--online'],
     '--online exports the ONNX pair'),
    ('export', ['{s1}', 'none', '--format', 'onnx', '--output', 'labels', '--out', '{tmp}/m.onnx'],
     '--output is for --format pt2'),
    ('export', ['{s1}', 'none', '--format', 'onnx', '--size', '32x32', '--out', '{tmp}/m.onnx'],
     'traces sizes of at least 64x64'),
    ('export', ['none', '--out', '{tmp}/m.pt2'], "random weights ('none') need a config"),
    ('export', ['{s1}', 'none', 'more', '--out', '{tmp}/m.pt2'], 'expected [CONFIG] CHECKPOINT'),
    ('export', ['{s1}', 'none', '--format', 'tflite', '--out', '{tmp}/m'],
     'argument --format: invalid choice'),
    ('export', ['{s1}', 'none', '--out', UNWRITABLE], '--out '),
    ('export', ['{s1}', 'none', '--out', '{tmp}/m.pt2', '--size', '64'], '--size'),
    ('export', ['{s1}', 'none', '--out', '{tmp}/m.pt2', '--clip-len', '0'],
     '--clip-len must be positive'),
    ('export', ['{s1}', 'none', '--out', '{tmp}/m.pt2', '--output', 'logits'],
     "argument --output: invalid choice"),
    ('export', ['{s1}', 'none', '--out', '{tmp}/m.pt2', '--atol', 'x'],
     'argument --atol: invalid float value'),
    ('export', ['{s1}', '{mp4}', '--out', '{tmp}/m.pt2'], 'is not a PyTorch checkpoint'),
    ('export', ['{s1}', 'none'], 'the following arguments are required: --out'),
    # tools/make_toy_dataset.py
    ('make_toy_dataset', ['--out', '{tmp}/t1', '--videos', 'x'],
     'argument --videos: invalid int value'),
    ('make_toy_dataset', ['--out', '{tmp}/t2', '--size', '64'], 'argument --size'),
    ('make_toy_dataset', ['--out', '{tmp}/t3', '--frames', 'a-b'], 'argument --frames'),
    # tools/benchmark_eval_memory.py
    ('benchmark_eval_memory', ['--frames', '0'], 'argument --frames: expected an integer >= 1'),
    ('benchmark_eval_memory', ['--size', '480'], 'argument --size: expected HxW'),
    ('benchmark_eval_memory', ['--out', UNWRITABLE], '--out '),
    ('benchmark_online', ['--size', '480'], 'argument --size: expected HxW'),
    ('benchmark_online', ['--frames', '0'], 'argument --frames'),
    ('benchmark_online', ['--dilations=-3,x'], '--dilations: expected comma-separated integers'),
    ('benchmark_online', ['--out', UNWRITABLE], '--out '),
    ('benchmark_online', ['{tmp}/absent.py'], 'absent.py'),
    # tools/video_demo.py
    ('video_demo', ['{data}/data', '--backend', 'onnxruntime'],
     '--backend onnxruntime needs --model'),
    ('video_demo', ['{s2}', '{ckpt1}', '{data}/data', '--model', 'm.onnx'],
     '--model is for --backend onnxruntime'),
    ('video_demo', ['{data}/data', '--backend', 'onnxruntime', '--model', 'm.onnx', '--mode',
                    'online'],
     '--mode online needs the online pair'),
    ('video_demo', ['{data}/data', '--backend', 'onnxruntime', '--model', 'a.onnx', 'b.onnx',
                    '--mode', 'clips'],
     '--mode clips needs the clip model'),
    ('video_demo', ['{s2}', '{ckpt1}', '{data}/data', '--backend', 'onnxruntime', '--model',
                    'm.onnx'],
     'expected [CONFIG] INPUT (the model is --model)'),
    ('video_demo', ['{data}/data', '--backend', 'onnxruntime', '--model', 'm.onnx', '--device',
                    'cuda'],
     '--backend onnxruntime runs on the CPU'),
    ('video_demo', ['{s2}', '{ckpt1}', '{tmp}/absent_folder', '--out', '{tmp}/demo'],
     'is neither a video file, a folder of frames nor a camera index'),
    ('video_demo', ['{s2}', '{ckpt1}', '{data}/data', '--clip-len', 'two'],
     'argument --clip-len: invalid int value'),
    ('video_demo', ['{s2}', '{ckpt1}', '{data}/data', '--opacity', 'x'],
     'argument --opacity: invalid float value'),
]
DEMO_ROWS = [  # video_demo rows that need a prepared folder
    ('video_demo', ['{s1}', '{ckpt1}', '{data}/data/{video}/origin', '--out', '{afile}/demo'],
     '--out '),
    ('video_demo', ['{s1}', '{ckpt1}', '{data}/data/{video}/origin', '--device', 'cuda', '--out',
                    '{tmp}/demo'],
     'cuda'),
    ('video_demo', ['{s1}', '{ckpt1}', '{corrupt}', '--out', '{tmp}/demo2'], 'corrupt.jpg'),
]


def _run(tool, argv, capsys):
    code, _, err = run_tool(tool, argv, capsys)
    return code, err


def _format(argv, paths):
    return [arg.format(**paths) for arg in argv]


def _check(code, err, fragment, argv):
    assert code not in (0, None), f'{argv}: exit status {code}'
    assert 'Traceback' not in err, err
    error_lines = [line for line in err.splitlines()
                   if line.startswith('error: ') or ': error: ' in line]
    assert len(error_lines) == 1, f'{argv}: expected one error line, got:\n{err}'
    assert fragment in error_lines[0], f'{argv}: {fragment!r} not in {error_lines[0]!r}'


@pytest.mark.parametrize('tool,argv,fragment',
                         [pytest.param(*row, id=f'{row[0]}-{i}') for i, row in enumerate(ROWS)])
def test_bad_input_gives_one_line(tool, argv, fragment, paths, capsys):
    argv = _format(argv, paths)
    code, err = _run(tool, argv, capsys)
    _check(code, err, fragment, argv)


@pytest.mark.parametrize('tool,argv,fragment',
                         [pytest.param(*row, id=f'demo-{i}') for i, row in enumerate(DEMO_ROWS)])
def test_video_demo_rows_with_prepared_inputs(tool, argv, fragment, paths, capsys, tmp_path):
    video = sorted(os.listdir(os.path.join(paths['data'], 'data')))[0]
    corrupt = tmp_path / 'frames'
    corrupt.mkdir()
    (corrupt / 'corrupt.jpg').write_bytes(b'\xff\xd8 not a jpeg')
    argv = _format(argv, dict(paths, video=video, corrupt=str(corrupt)))
    code, err = _run(tool, argv, capsys)
    _check(code, err, fragment, argv)


def test_every_tool_has_rows():
    tools = os.path.join(ROOT, 'tools')  # scripts in tools/ and its folders, not in packages
    scripts = sorted(os.path.relpath(os.path.join(folder, name), tools)[:-3]
                     for folder, _, names in os.walk(tools) if '__init__.py' not in names
                     for name in names if name.endswith('.py'))
    assert scripts == sorted(TOOLS), 'a new tool needs rows in ROWS'
    assert {row[0] for row in ROWS} == set(TOOLS)


def test_a_failed_run_leaves_no_empty_output_folder(paths, capsys, tmp_path):
    out = tmp_path / 'new' / 'demo'
    code, err = _run('video_demo',
                     [STAGE1, paths['ckpt1'], str(tmp_path / 'absent'), '--out', str(out)], capsys)
    assert code == 1 and 'is neither a video file' in err
    assert not (tmp_path / 'new').exists()  # created by the output check, empty, removed
    kept = tmp_path / 'kept'
    kept.mkdir()
    (kept / 'mine.txt').write_text('x')
    code, err = _run('video_demo',
                     [STAGE1, paths['ckpt1'], str(tmp_path / 'absent'), '--out', str(kept)], capsys)
    # labels/ removed, the folder kept
    assert code == 1 and sorted(os.listdir(kept)) == ['mine.txt']


def test_debug_switch_shows_the_traceback(paths, monkeypatch):
    monkeypatch.setenv('THEMASK_DEBUG', '1')
    with pytest.raises(ValueError, match='expected at least 3'):
        run_cli(tool_main('make_synthetic_vspw'), ['--out', paths['tmp'] + '/dbg', '--videos', '2'])


def test_partial_load_works_with_the_flag(paths, tmp_path):
    out = tmp_path / 'm.json'
    run_cli(tool_main('test'), [STAGE2, paths['ckpt1'], '--allow-partial-load', '--out', str(out),
                                '--eval', 'mIoU', '--options',
                                f'data.test.data_root={paths["data"]}', 'data.workers_per_gpu=0'])
    assert json.load(open(out))['num_frames'] > 0


def test_overwrite_empties_the_folder_first(paths, tmp_path):
    out = tmp_path / 'synthetic'
    out.mkdir()
    (out / 'stale.txt').write_text('old')
    (out / 'data').mkdir()
    (out / 'data' / 'old_video').mkdir()
    with pytest.raises(SystemExit) as info:
        run_cli(tool_main('make_synthetic_vspw'),
                ['--out', str(out), '--videos', '3', '--size', '32x32', '--frames', '1-2',
                 '--overwrite'])
    assert info.value.code == 0
    assert not (out / 'stale.txt').exists() and not (out / 'data' / 'old_video').exists()
    assert (out / 'val.txt').is_file()
