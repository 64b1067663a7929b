#include "umt/model/runtime.hpp"

#include <algorithm>
#include <thread>

#include <torch/torch.h>

namespace umt::model {

std::string torch_version() { return std::to_string(TORCH_VERSION_MAJOR) + "." + std::to_string(TORCH_VERSION_MINOR) + "." + std::to_string(TORCH_VERSION_PATCH); }

void set_threads(int threads) {
    if (threads <= 0) threads = int(std::max(1u, std::thread::hardware_concurrency()));
    torch::set_num_threads(threads);
}

}  // namespace umt::model
