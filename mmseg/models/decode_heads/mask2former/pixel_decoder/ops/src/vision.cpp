// Python binding of the multi-scale deformable attention op.
#include <torch/csrc/utils/pybind.h>

#include "ms_deform_attn.h"

PYBIND11_MODULE(TORCH_EXTENSION_NAME, m) {
  m.def("ms_deform_attn_forward", &msda::ms_deform_attn_forward,
        "multi-scale deformable attention forward (value, value_spatial_shapes, "
        "value_level_start_index, sampling_locations, attention_weights, im2col_step) -> output");
  m.def("ms_deform_attn_backward", &msda::ms_deform_attn_backward,
        "multi-scale deformable attention backward (..., grad_output, im2col_step) -> "
        "[grad_value, grad_sampling_locations, grad_attention_weights]");
  m.def("with_cuda", [] {
#ifdef WITH_CUDA
    return true;
#else
    return false;
#endif
  }, "whether the CUDA kernel was compiled");
}
