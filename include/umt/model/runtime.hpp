// Facts about the network runtime (libtorch) that the CLI can print without including torch.
#pragma once

#include <string>

namespace umt::model {

std::string torch_version();
// Sets the intra-op thread count used by every model run (0 = leave torch's default).
void set_num_threads(int n);

}  // namespace umt::model
