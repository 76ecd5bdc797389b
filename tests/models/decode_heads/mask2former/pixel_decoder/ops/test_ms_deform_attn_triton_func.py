"""The Triton path's entry point and operator: the lazy loading of triton (absent, broken, or
without the interpreter for CPU tensors), and, under Triton's interpreter in a child process (see
``msda_triton_interpreter``), the golden entry, gradcheck, and the operators defined without the
extension with the Triton kernels (``torch.library.opcheck``)."""
import inspect

import pytest

from mmseg.models.decode_heads.mask2former.pixel_decoder.ops import (ms_deform_attn_core_pytorch,
                                                                     ms_deform_attn_triton)
from mmseg.models.decode_heads.mask2former.pixel_decoder.ops.functions import \
    ms_deform_attn_triton_func as triton_func
from tests.models.decode_heads.mask2former.pixel_decoder.ops.msda_cases import make_inputs
from tests.models.decode_heads.mask2former.pixel_decoder.ops.msda_triton_interpreter import (
    GRADCHECK_CASES, run_in_interpreter)


@pytest.fixture(scope='module')
def checks():
    """The ``autograd`` suite (about 25 s) with the extension's import blocked."""
    return run_in_interpreter('autograd', without_extension=True)


def result_of(checks, name):
    check = checks[name]
    assert 'error' not in check, check['error']
    return check['result']


@pytest.mark.slow
def test_triton_reproduces_golden(checks):
    errors = result_of(checks, 'golden')
    assert errors.pop('output_f32_abs') < 1e-5
    for key, error in errors.items():
        assert error < 1e-10, (key, errors)


@pytest.mark.slow
@pytest.mark.parametrize('case', list(GRADCHECK_CASES))
def test_triton_gradcheck(checks, case):
    assert result_of(checks, f'gradcheck {case}') is True


@pytest.mark.slow
def test_operator_without_extension_runs_triton(checks):
    result = result_of(checks, 'operator without extension')
    assert result['backends'] == {'cpu': False, 'cuda': False, 'triton': True,
                                  'reference_forced': False}
    assert result['triton_operator'] is True and result['cuda_kernel_registered'] is True
    assert len(result['opcheck']) == 8
    assert all(outcome == 'SUCCESS' for outcome in result['opcheck'].values()), result['opcheck']
    assert max(result['errors']) < 1e-12, result['errors']


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
