"""model.pretrained in every form: SegFormer's flat .pth, a Hugging Face folder, a .safetensors
file.

The Hugging Face weights are made here with transformers (a test-only dependency) from random
weights; nothing is downloaded.
"""
import importlib.util
import json
import os
import shutil

import pytest
import torch

from mmseg.models import build_backbone, build_segmentor
from mmseg.models.backbones.mit_weights import (
    PretrainedWeightsError,
    hf_to_mit_state_dict,
    read_mit_state_dict,
)
from mmseg.utils.checkpoint import read_checkpoint
from mmseg.utils.config import load_config

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
B0 = dict(hidden_sizes=[32, 64, 160, 256], depths=[2, 2, 2, 2])
B2 = dict(hidden_sizes=[64, 128, 320, 512], depths=[3, 4, 6, 3])
SHARED = dict(num_attention_heads=[1, 2, 5, 8], sr_ratios=[8, 4, 2, 1], mlp_ratios=[4, 4, 4, 4],
              patch_sizes=[7, 3, 3, 3], strides=[4, 2, 2, 2], num_labels=10)


def hf_model(arch, seed=0):
    """A random ``SegformerForImageClassification``; every tensor perturbed so that a wrong mapping
    shows."""
    transformers = pytest.importorskip('transformers')
    torch.manual_seed(seed)
    model = transformers.SegformerForImageClassification(
        transformers.SegformerConfig(**arch, **SHARED))
    with torch.no_grad():
        for param in model.parameters():
            param.add_(torch.randn_like(param) * 0.02)
    return model.eval()


def save_hf(model, folder):
    model.save_pretrained(str(folder))
    assert sorted(os.listdir(folder)) == ['config.json', 'model.safetensors']
    return folder


@pytest.fixture(scope='module')
def b0_hf(tmp_path_factory):
    model = hf_model(B0)
    return model, save_hf(model, tmp_path_factory.mktemp('hf') / 'mit-b0')


@pytest.fixture(scope='module')
def b2_hf(tmp_path_factory):
    return save_hf(hf_model(B2, seed=1), tmp_path_factory.mktemp('hf') / 'mit-b2')


def hidden_states(model, image):
    with torch.no_grad():
        states = model.segformer(image, output_hidden_states=True).hidden_states
    assert len(states) == 4
    return states


def backbone_features(backbone, image):
    with torch.no_grad():
        return backbone.eval()(image)


def assert_same_features(ours, theirs):
    for s, (a, b) in enumerate(zip(ours, theirs)):
        assert a.shape == b.shape, s
        rel = ((a - b).norm() / b.norm()).item()
        assert rel <= 1e-4, f'stage {s + 1}: relative error {rel:.2e}'


def b0_stage1_backbone(pretrained):
    cfg = load_config(os.path.join(ROOT, 'local_configs/themask/1f_themask_mit_b0.py'))
    cfg.model.pretrained = str(pretrained)
    return build_segmentor(cfg.model).backbone


# ----------------------------------------------------------------------------- done-when 1 and 2


@pytest.mark.parametrize('form', ['folder', 'safetensors file'])
def test_hf_folder_and_safetensors_file_load_into_b0_stage1_config(b0_hf, form, mmseg_caplog):
    model, folder = b0_hf
    path = folder if form == 'folder' else folder / 'model.safetensors'
    backbone = b0_stage1_backbone(path)
    image = torch.randn(1, 3, 64, 64, generator=torch.Generator().manual_seed(0))
    assert_same_features(backbone_features(backbone, image), hidden_states(model, image))
    ignored = [r.message for r in mmseg_caplog.records if 'ignoring' in r.message]
    assert (len(ignored) == 1 and 'classifier.weight' in ignored[0]
            and 'classifier.bias' in ignored[0])


@pytest.mark.parametrize('names', ['hub names', 'transformers module names'])
def test_pytorch_model_bin_loads(b0_hf, tmp_path, names):
    from safetensors.torch import load_file
    model, folder = b0_hf
    bin_folder = tmp_path / 'mit-b0-bin'
    bin_folder.mkdir()
    shutil.copy(folder / 'config.json', bin_folder / 'config.json')
    # what save_pretrained(..., safe_serialization=False) wrote before transformers 5 (which always
    # writes safetensors): the hub names; and the names of transformers 5's modules
    state = (load_file(str(folder / 'model.safetensors')) if names == 'hub names'
             else model.state_dict())
    assert any(k.startswith('segformer.encoder.block.0.0.attention.self.key' if names == 'hub names'
                            else 'segformer.stages.0.blocks.0.attention.k_proj') for k in state)
    torch.save(state, bin_folder / 'pytorch_model.bin')
    backbone = b0_stage1_backbone(bin_folder)
    image = torch.randn(1, 3, 64, 64, generator=torch.Generator().manual_seed(1))
    assert_same_features(backbone_features(backbone, image), hidden_states(model, image))


def test_key_and_value_become_the_fused_kv(b0_hf):
    from safetensors.torch import load_file
    _, folder = b0_hf
    hf = load_file(str(folder / 'model.safetensors'))
    ours = hf_to_mit_state_dict(hf, path='x')
    prefix = 'segformer.encoder.block.2.1.attention.self'
    assert torch.equal(ours['block3.1.attn.kv.weight'],
                       torch.cat([hf[f'{prefix}.key.weight'], hf[f'{prefix}.value.weight']]))
    assert torch.equal(ours['norm4.weight'], hf['segformer.encoder.layer_norm.3.weight'])
    assert torch.equal(ours['head.weight'], hf['classifier.weight'])


# ----------------------------------------------------------------------------- done-when 3


def test_b2_folder_for_a_b1_config_names_both(b2_hf):
    with pytest.raises(PretrainedWeightsError) as err:
        build_backbone(dict(type='mit_b1', pretrained=str(b2_hf)))
    msg = str(err.value)
    assert ('mit_b2' in msg and 'mit_b1' in msg and 'config.json' in msg
            and 'depths [3, 4, 6, 3]' in msg)
    assert isinstance(err.value, ValueError)


def test_b2_safetensors_without_config_for_a_b1_names_both(b2_hf, tmp_path):
    lone = tmp_path / 'b2.safetensors'
    shutil.copy(b2_hf / 'model.safetensors', lone)
    with pytest.raises(PretrainedWeightsError, match=r"mit_b2 .*'block1\.2\..*mit_b1"):
        build_backbone(dict(type='mit_b1', pretrained=str(lone)))


def test_themask_checkpoint_as_pretrained_says_what_it_is(tmp_path):
    backbone = build_backbone(dict(type='mit_b0'))
    state = {f'backbone.{k}': v for k, v in backbone.state_dict().items()}
    state['decode_head.predictor.query_feat.weight'] = torch.zeros(100, 256)
    path = tmp_path / 'iter_160000.pth'
    torch.save({'state_dict': state, 'meta': {'iter': 160000}}, path)
    with pytest.raises(PretrainedWeightsError) as err:
        build_backbone(dict(type='mit_b0', pretrained=str(path)))
    msg = str(err.value)
    assert ('THE-Mask' in msg and 'segmentor checkpoint' in msg and '--load-from' in msg
            and str(path) in msg)


def test_unmappable_key_is_named(b0_hf, tmp_path):
    from safetensors.torch import load_file, save_file
    _, folder = b0_hf
    odd = tmp_path / 'mit-b0'
    shutil.copytree(folder, odd)
    state = load_file(str(odd / 'model.safetensors'))
    state['segformer.encoder.block.0.0.attention.self.rotary.weight'] = torch.zeros(4)
    save_file(state, str(odd / 'model.safetensors'))
    with pytest.raises(PretrainedWeightsError,
                       match="'segformer.encoder.block.0.0.attention.self.rotary.weight'"):
        build_backbone(dict(type='mit_b0', pretrained=str(odd)))


def test_lone_key_without_value_is_named(b0_hf, tmp_path):
    from safetensors.torch import load_file, save_file
    _, folder = b0_hf
    state = load_file(str(folder / 'model.safetensors'))
    del state['segformer.encoder.block.1.0.attention.self.value.bias']
    save_file(state, str(tmp_path / 'cut.safetensors'))
    with pytest.raises(PretrainedWeightsError,
                       match=r"'segformer.encoder.block.1.0.attention.self.key.bias' "
                             r"but not its value"):
        build_backbone(dict(type='mit_b0', pretrained=str(tmp_path / 'cut.safetensors')))


def test_other_architectures_are_named(tmp_path):
    torch.save({'conv1.weight': torch.zeros(64, 3, 7, 7), 'fc.weight': torch.zeros(1000, 2048)},
               tmp_path / 'resnet50.pth')
    with pytest.raises(PretrainedWeightsError, match="another architecture .*conv1.weight"):
        build_backbone(dict(type='mit_b0', pretrained=str(tmp_path / 'resnet50.pth')))
    vit = tmp_path / 'vit'
    vit.mkdir()
    (vit / 'config.json').write_text(json.dumps({'model_type': 'vit',
                                                 'architectures': ['ViTModel']}))
    from safetensors.torch import save_file
    save_file({'embeddings.cls_token': torch.zeros(1, 1, 8)}, str(vit / 'model.safetensors'))
    with pytest.raises(PretrainedWeightsError, match=r"ViTModel.*model_type 'vit'"):
        build_backbone(dict(type='mit_b0', pretrained=str(vit)))


def test_missing_folder_or_weights_say_where_to_get_them(tmp_path):
    for path, detail in [(tmp_path / 'mit-b1', 'not found'),
                         (tmp_path, 'is a folder without model.safetensors')]:
        with pytest.raises(FileNotFoundError) as err:
            build_backbone(dict(type='mit_b1', pretrained=str(path)))
        msg = str(err.value)
        assert str(path) in msg and detail in msg and 'model.pretrained' in msg
        assert 'SegFormer' in msg and 'huggingface-cli download nvidia/mit-b1' in msg


def test_safetensors_with_our_names_loads(tmp_path):
    from safetensors.torch import save_file
    source = build_backbone(dict(type='mit_b0'))
    save_file(source.state_dict(), str(tmp_path / 'mit_b0.safetensors'))
    loaded = build_backbone(dict(type='mit_b0', pretrained=str(tmp_path / 'mit_b0.safetensors')))
    assert all(torch.equal(a, b) for a, b in zip(loaded.state_dict().values(),
                                                 source.state_dict().values()))


# ----------------------------------------------------------------------------- done-when 4


def load_tool(name):
    spec = importlib.util.spec_from_file_location(name, os.path.join(ROOT, 'tools', f'{name}.py'))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_converter_writes_a_segformer_pth_from_an_hf_folder(b0_hf, tmp_path, mmseg_caplog):
    _, folder = b0_hf
    out = tmp_path / 'mit_b0.pth'
    assert load_tool('convert_checkpoint').main([str(folder), str(out)]) == 0
    flat = read_checkpoint(str(out))  # weights_only=True
    reference = build_backbone(dict(type='mit_b0'))
    assert set(flat) == set(reference.state_dict()) | {'head.weight', 'head.bias'}
    from_pth = build_backbone(dict(type='mit_b0', pretrained=str(out)))
    # ignored as in SegFormer's own file
    assert 'ignoring' in mmseg_caplog.text and 'head.weight' in mmseg_caplog.text
    from_folder = build_backbone(dict(type='mit_b0', pretrained=str(folder)))
    image = torch.randn(1, 3, 64, 64, generator=torch.Generator().manual_seed(2))
    for a, b in zip(backbone_features(from_pth, image), backbone_features(from_folder, image)):
        assert torch.equal(a, b)
    assert all(torch.equal(flat[k], v) for k, v in read_mit_state_dict(str(folder)).items())


def test_converter_accepts_a_safetensors_file(b0_hf, tmp_path):
    _, folder = b0_hf
    out = tmp_path / 'mit_b0.pth'
    assert load_tool('convert_checkpoint').main([str(folder / 'model.safetensors'), str(out)]) == 0
    assert 'block1.0.attn.kv.weight' in read_checkpoint(str(out))
