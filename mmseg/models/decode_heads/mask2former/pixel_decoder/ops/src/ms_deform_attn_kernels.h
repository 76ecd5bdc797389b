// The kernels behind ms_deform_attn.h: CPU (cpu/, float and double) and CUDA (cuda/, float,
// double, half and bfloat16; compiled when WITH_CUDA is defined). The caller checks the inputs,
// preallocates the output and zero-fills the gradients.
#pragma once

#include <ATen/core/Tensor.h>

namespace msda {

// Sizes of a call: value (N, S, M, D), sampling locations (N, Lq, M, L, P, 2).
struct Dims {
  int64_t batch, num_values, heads, channels, num_queries, levels, points;
};

inline Dims dims_of(const at::Tensor& value, const at::Tensor& sampling_loc) {
  return {value.size(0),        value.size(1),        value.size(2),       value.size(3),
          sampling_loc.size(1), sampling_loc.size(3), sampling_loc.size(4)};
}

// output (N, Lq, M * D)
using ForwardKernel = void(const at::Tensor& value, const at::Tensor& spatial_shapes,
                           const at::Tensor& level_start_index, const at::Tensor& sampling_loc,
                           const at::Tensor& attn_weight, const at::Tensor& output);
// gradients of value, sampling_loc and attn_weight
using BackwardKernel = void(const at::Tensor& value, const at::Tensor& spatial_shapes,
                            const at::Tensor& level_start_index, const at::Tensor& sampling_loc,
                            const at::Tensor& attn_weight, const at::Tensor& grad_output,
                            const at::Tensor& grad_value, const at::Tensor& grad_sampling_loc,
                            const at::Tensor& grad_attn_weight);

ForwardKernel ms_deform_attn_cpu_forward;
BackwardKernel ms_deform_attn_cpu_backward;
#ifdef WITH_CUDA
ForwardKernel ms_deform_attn_cuda_forward;
BackwardKernel ms_deform_attn_cuda_backward;
#endif

}  // namespace msda
