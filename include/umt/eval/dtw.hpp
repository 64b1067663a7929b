// Dynamic time warping: align two sequences, and warp a performance onto a reference's
// time line (image -> audio evaluation scores notes after such an alignment).
#pragma once

#include <cstddef>
#include <functional>
#include <utility>
#include <vector>

#include "umt/core/performance.hpp"

namespace umt::eval {

struct DtwResult {
    std::vector<std::pair<std::size_t, std::size_t>> path;  // (i, j) from (0,0) to (n-1,m-1), both monotone
    double cost = 0.0;                                      // sum of the local costs along the path
};

// Classic DTW with steps (1,0), (0,1), (1,1), all weight 1. Memory: two rows of
// accumulated cost plus one byte per cell for the way back. Ties prefer the diagonal,
// then (1,0). Throws std::invalid_argument when n or m is 0.
DtwResult dtw(std::size_t n, std::size_t m, const std::function<double(std::size_t, std::size_t)>& cost);

// Cosine distance between feature frames (a zero frame is at distance 0 from a zero
// frame and 1 from any other).
double cosine_distance(const std::vector<float>& a, const std::vector<float>& b);
DtwResult dtw_features(const std::vector<std::vector<float>>& a, const std::vector<std::vector<float>>& b);

// 12-bin chroma of the sounding notes per frame of hop_s seconds (a note counts in
// every frame its interval overlaps); at least one frame.
std::vector<std::vector<float>> chroma_frames(const Performance& perf, double hop_s);

// Maps each time t of `hyp` to the reference time line through the DTW path between
// chroma frames (piecewise linear between frame centres, monotone) and returns hyp
// with its onsets and offsets mapped. Pedals and tempos are dropped.
Performance align_to_reference(const Performance& ref, const Performance& hyp, double hop_s = 0.05);

}  // namespace umt::eval
