// CPU kernels of multi-scale deformable attention (float and double). The inputs are checked by
// ms_deform_attn.h; the outputs are preallocated, the gradients zero-filled.
#pragma once

#include <ATen/core/Tensor.h>

namespace msda {

void ms_deform_attn_cpu_forward(const at::Tensor& value, const at::Tensor& spatial_shapes,
                                const at::Tensor& level_start_index,
                                const at::Tensor& sampling_loc, const at::Tensor& attn_weight,
                                const at::Tensor& output);

void ms_deform_attn_cpu_backward(const at::Tensor& value, const at::Tensor& spatial_shapes,
                                 const at::Tensor& level_start_index,
                                 const at::Tensor& sampling_loc, const at::Tensor& attn_weight,
                                 const at::Tensor& grad_output, const at::Tensor& grad_value,
                                 const at::Tensor& grad_sampling_loc,
                                 const at::Tensor& grad_attn_weight);

}  // namespace msda
