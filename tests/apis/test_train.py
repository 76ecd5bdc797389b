"""train_segmentor: load / fine-tune / wrap / optimizer / resume in the right order."""
import pytest
import torch

from mmseg.apis.train import init_training_env, train_segmentor
from mmseg.datasets import collate_clips
from runner_toy import ToyClips, ToySegmentor, toy_config


class Interrupt(Exception):
    pass


def interrupt_at_first_evaluation(model):
    raise Interrupt


def stage2(tmp_path, name, **overrides):
    cfg = toy_config(max_iters=4, interval=2)
    cfg.update(work_dir=str(tmp_path / name), data=dict(samples_per_gpu=2, workers_per_gpu=0),
               finetune_cfg=dict(trainable_patterns=['predictor']), find_unused_parameters=True,
               cudnn_benchmark=True, **overrides)
    _, seed = init_training_env(cfg, seed=0)
    return cfg, seed


def test_finetune_then_resume_continues_exactly(tmp_path):
    stage1 = ToySegmentor()
    torch.save({'state_dict': stage1.state_dict()}, tmp_path / 'stage1.pth')
    finetune = str(tmp_path / 'stage1.pth')

    cfg, seed = stage2(tmp_path, 'straight')
    straight = ToySegmentor()
    runner = train_segmentor(straight, ToyClips(), cfg, collate_fn=collate_clips, seed=seed,
                             finetune=finetune)
    assert torch.backends.cudnn.benchmark
    assert torch.equal(straight.backbone['conv'].weight, stage1.backbone['conv'].weight)  # frozen
    assert not torch.equal(straight.decode_head['predictor'].weight,
                           stage1.decode_head['predictor'].weight)
    assert runner.iter == 4

    cfg, seed = stage2(tmp_path, 'split', evaluation=dict(interval=2))
    with pytest.raises(Interrupt):
        train_segmentor(ToySegmentor(), ToyClips(), cfg, collate_fn=collate_clips, seed=seed,
                        finetune=finetune, eval_fn=interrupt_at_first_evaluation)
    cfg, seed = stage2(tmp_path, 'split', resume_from=str(tmp_path / 'split' / 'iter_2.pth'))
    resumed = ToySegmentor()
    train_segmentor(resumed, ToyClips(), cfg, collate_fn=collate_clips, seed=seed,
                    finetune=finetune)
    assert resumed.iterations_seen == [2, 3]
    for key, value in straight.state_dict().items():
        assert torch.equal(value, resumed.state_dict()[key]), key


def test_load_from_sets_the_initial_weights(tmp_path):
    source = ToySegmentor()
    torch.save(source.state_dict(), tmp_path / 'w.pth')
    cfg, seed = stage2(tmp_path, 'load', load_from=str(tmp_path / 'w.pth'),
                       runner=dict(type='IterBasedRunner', max_iters=1),
                       lr_config=dict(policy='poly', min_lr=0.0),
                       optimizer=dict(type='SGD', lr=0.0))
    model = ToySegmentor()
    train_segmentor(model, ToyClips(), cfg, collate_fn=collate_clips, seed=seed)
    for key, value in source.state_dict().items():
        assert torch.equal(value, model.state_dict()[key]), key
