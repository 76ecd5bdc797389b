// The bilinear sampling rule shared by the CPU and CUDA kernels: grid_sample with bilinear
// interpolation, zero padding and align_corners=False, at normalised location (x, y) in a level of
// H x W pixels.
#pragma once

#include <c10/macros/Macros.h>

#include <cmath>
#include <cstdint>

namespace msda {

C10_HOST_DEVICE inline float floor_value(float x) { return floorf(x); }
C10_HOST_DEVICE inline double floor_value(double x) { return floor(x); }

// The four integer neighbours of a sampling point, in the order (x0, y0), (x0 + 1, y0),
// (x0, y0 + 1), (x0 + 1, y0 + 1); a neighbour outside the map is not valid (it reads zero).
template <typename T>
struct Stencil {
  bool valid[4];
  int64_t pixel[4];  // y * W + x within the level
  T weight[4];       // bilinear weight
  T d_du[4];         // d weight / d u
  T d_dv[4];         // d weight / d v
};

// Pixel coordinates u = x * W - 0.5, v = y * H - 0.5; returns the number of valid neighbours.
template <typename T>
C10_HOST_DEVICE inline int make_stencil(T x, T y, int64_t height, int64_t width, Stencil<T>& s) {
  const T w = static_cast<T>(width), h = static_cast<T>(height);
  const T u = x * w - T(0.5), v = y * h - T(0.5);
  // no neighbour can be inside (this also rejects NaN and values too large for int64)
  if (!(u > T(-2) && v > T(-2) && u < w + T(1) && v < h + T(1))) {
    s.valid[0] = s.valid[1] = s.valid[2] = s.valid[3] = false;
    return 0;
  }
  const T u_floor = floor_value(u), v_floor = floor_value(v);
  const int64_t x0 = static_cast<int64_t>(u_floor), y0 = static_cast<int64_t>(v_floor);
  const T fu = u - u_floor, fv = v - v_floor, gu = T(1) - fu, gv = T(1) - fv;
  const bool x0_in = x0 >= 0 && x0 < width, x1_in = x0 + 1 >= 0 && x0 + 1 < width;
  const bool y0_in = y0 >= 0 && y0 < height, y1_in = y0 + 1 >= 0 && y0 + 1 < height;
  s.valid[0] = x0_in && y0_in;
  s.valid[1] = x1_in && y0_in;
  s.valid[2] = x0_in && y1_in;
  s.valid[3] = x1_in && y1_in;
  s.pixel[0] = y0 * width + x0;
  s.pixel[1] = s.pixel[0] + 1;
  s.pixel[2] = s.pixel[0] + width;
  s.pixel[3] = s.pixel[2] + 1;
  s.weight[0] = gu * gv;
  s.weight[1] = fu * gv;
  s.weight[2] = gu * fv;
  s.weight[3] = fu * fv;
  s.d_du[0] = -gv;
  s.d_du[1] = gv;
  s.d_du[2] = -fv;
  s.d_du[3] = fv;
  s.d_dv[0] = -gu;
  s.d_dv[1] = -fu;
  s.d_dv[2] = gu;
  s.d_dv[3] = fu;
  return int(s.valid[0]) + int(s.valid[1]) + int(s.valid[2]) + int(s.valid[3]);
}

}  // namespace msda
