"""The Triton path's entry point and operator: the lazy loading of triton (absent, broken, or
without the interpreter for CPU tensors); under Triton's interpreter in a child process (see
``msda_triton_checks``) the golden entry, gradcheck, and the operators defined without the
extension with the Triton kernels (``torch.library.opcheck``, torch.compile); the same on CUDA
with a GPU, and the dispatcher's Triton path there."""
import inspect

import pytest
import torch

from mmseg.models.decode_heads.mask2former.pixel_decoder.ops import (
    MSDeformAttn,
    ms_deform_attn_core_pytorch,
    ms_deform_attn_triton,
    multi_scale_deformable_attn,
    select_backend,
)
from mmseg.models.decode_heads.mask2former.pixel_decoder.ops.functions import (
    ms_deform_attn_func as msda,
)
from mmseg.models.decode_heads.mask2former.pixel_decoder.ops.functions import (
    ms_deform_attn_triton_func as triton_func,
)
from mmseg.models.utils import compute_mode
from tests.models.decode_heads.mask2former.pixel_decoder.ops.msda_cases import (
    make_inputs,
    require_kernel,
)
from tests.models.decode_heads.mask2former.pixel_decoder.ops.msda_triton_checks import (
    GRADCHECK_CASES,
    golden,
    gradcheck,
    relative_error,
    result_of,
    run_child,
)


@pytest.fixture(scope='module')
def checks():
    """The ``autograd`` suite under the interpreter (about 25 s), the extension's import
    blocked."""
    return run_child('autograd', without_extension=True)


def assert_golden(errors):
    assert errors.pop('output_f32_abs') < 1e-5
    for key, error in errors.items():
        assert error < 1e-10, (key, errors)


def assert_operator_runs_triton(result):
    assert result['backends'] == {'cpu': False, 'cuda': False, 'triton': True,
                                  'reference_forced': False}
    assert result['triton_operator'] is True and result['cuda_kernel_registered'] is True
    assert len(result['opcheck']) == 8
    assert all(outcome == 'SUCCESS' for outcome in result['opcheck'].values()), result['opcheck']
    assert max(result['errors']) < 1e-12, result['errors']
    assert result['compiled_equals_eager'] is True


@pytest.mark.slow
def test_triton_reproduces_golden(checks):
    assert_golden(result_of(checks, 'golden'))


@pytest.mark.slow
@pytest.mark.parametrize('case', list(GRADCHECK_CASES))
def test_triton_gradcheck(checks, case):
    assert result_of(checks, f'gradcheck {case}') is True


@pytest.mark.slow
def test_operator_without_extension_runs_triton(checks):
    assert_operator_runs_triton(result_of(checks, 'operator without extension'))


@pytest.fixture
def fresh_loader(monkeypatch):
    """The loader as before its first call (restored afterwards)."""
    monkeypatch.setattr(triton_func, '_loaded', None)
    return monkeypatch


def tiny_inputs():
    value, shapes, _, locations, weights = make_inputs(1, [(2, 2)], heads=1, channels=1,
                                                       num_queries=1, points=1)
    return value, shapes, locations, weights


def test_triton_not_installed_is_reported(fresh_loader):
    fresh_loader.setattr(triton_func, 'TRITON_INSTALLED', False)
    assert triton_func.triton_usable() is False
    module, status = triton_func.load_triton_kernels()
    assert module is None and status.startswith('not installed')
    with pytest.raises(RuntimeError, match='Triton kernels are unavailable: not installed.*'
                                           'THEMASK_MSDA_BACKEND=reference'):
        ms_deform_attn_triton(*tiny_inputs())


def test_broken_triton_warns_and_is_unusable(fresh_loader, tmp_path):
    package = tmp_path / 'msda_broken_triton'
    package.mkdir()
    (package / '__init__.py').write_text('')
    (package / 'kernels.py').write_text("raise RuntimeError('simulated: no libcuda')\n")
    fresh_loader.syspath_prepend(str(tmp_path))
    fresh_loader.setattr(triton_func, 'TRITON_INSTALLED', True)
    fresh_loader.setattr(triton_func, 'KERNELS_MODULE', 'msda_broken_triton.kernels')
    with pytest.warns(UserWarning, match='cannot be imported.*simulated: no libcuda'):
        assert triton_func.triton_usable() is False  # the first call tries the import
    module, status = triton_func.load_triton_kernels()
    assert module is None and 'RuntimeError: simulated: no libcuda' in status
    with pytest.raises(RuntimeError, match='Triton kernels are unavailable: triton is installed '
                                           'but cannot be imported'):
        ms_deform_attn_triton(*tiny_inputs())


def test_cpu_tensors_need_the_interpreter(fresh_loader):
    compiled = type('Kernels', (), {'INTERPRETED': False})  # loaded without TRITON_INTERPRET=1
    fresh_loader.setattr(triton_func, '_loaded', (compiled, 'triton (stand-in)'))
    with pytest.raises(RuntimeError, match='CPU tensors run only under Triton.s interpreter'):
        ms_deform_attn_triton(*tiny_inputs())
    assert triton_func.triton_usable() is True


def test_entry_point_has_the_reference_arguments():
    """Same positional arguments as ms_deform_attn_core_pytorch; the rest keyword-only."""
    reference = list(inspect.signature(ms_deform_attn_core_pytorch).parameters)
    parameters = inspect.signature(ms_deform_attn_triton).parameters
    assert list(parameters)[:len(reference)] == reference
    assert all(p.kind is inspect.Parameter.KEYWORD_ONLY
               for p in list(parameters.values())[len(reference):])


@pytest.mark.cuda
def test_triton_golden_and_gradcheck_on_cuda():
    require_kernel('triton')
    assert_golden(golden('cuda'))
    for inputs, fast_mode in GRADCHECK_CASES.values():
        assert gradcheck(inputs(), fast_mode, 'cuda')


@pytest.mark.cuda
def test_operator_without_extension_runs_triton_on_cuda():
    """As on a GPU machine without a CUDA toolchain: the operators' CUDA kernels are Triton's."""
    require_kernel('triton')
    checks = run_child('autograd', device='cuda', without_extension=True)
    assert_operator_runs_triton(result_of(checks, 'operator without extension'))


@pytest.mark.cuda
@pytest.mark.parametrize('dtype', [torch.float16, torch.bfloat16])
def test_dispatcher_runs_triton_on_cuda(monkeypatch, dtype):
    """THEMASK_MSDA_BACKEND=triton: the module gives the reference's result and gradients, and
    runs in float32 under autocast (beside the operator when the compiled CUDA kernel is built,
    as the operator's kernel otherwise)."""
    require_kernel('triton')
    monkeypatch.setattr(compute_mode, '_FAST', True)
    monkeypatch.setattr(msda, '_BACKEND', 'triton')
    torch.manual_seed(0)
    attn = MSDeformAttn(d_model=64, n_levels=2, n_heads=4, n_points=2).cuda().double()
    shapes = torch.tensor([[8, 8], [4, 4]], device='cuda')
    starts = torch.tensor([0, 64], device='cuda')
    x = torch.randn(2, 80, 64, device='cuda', dtype=torch.float64)
    ref_points = torch.rand(2, 80, 2, 2, device='cuda', dtype=torch.float64)
    assert select_backend(x.view(2, 80, 4, 16)) == 'triton'
    output = attn(x, ref_points, x, shapes, starts)
    grads = torch.autograd.grad(output.sum(), list(attn.parameters()))
    with monkeypatch.context() as m:
        m.setattr(msda, '_BACKEND', 'reference')
        expected = attn(x, ref_points, x, shapes, starts)
        expected_grads = torch.autograd.grad(expected.sum(), list(attn.parameters()))
    assert relative_error(output, expected) < 1e-12
    assert max(relative_error(g, e) for g, e in zip(grads, expected_grads)) < 1e-10
    locations = torch.rand(2, 80, 4, 2, 2, 2, device='cuda')
    weights = torch.rand(2, 80, 4, 2, 2, device='cuda')
    value = torch.randn(2, 80, 4, 16, device='cuda')
    full = multi_scale_deformable_attn(value.to(dtype).float(), shapes, starts,
                                       locations.to(dtype).float(), weights)
    with torch.autocast('cuda', dtype=dtype):
        sampled = multi_scale_deformable_attn(value.to(dtype), shapes, starts,
                                              locations.to(dtype), weights)
    assert sampled.dtype == torch.float32 and torch.equal(sampled, full)
