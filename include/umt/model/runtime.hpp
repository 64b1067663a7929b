// Facts about the network runtime (libtorch) that the CLI can print without including torch.
#pragma once

#include <string>

namespace umt::model {

std::string torch_version();
// Sets the intra-op thread count used by every model run for the whole process
// (0 = usable_cores()).
void set_threads(int threads);

}  // namespace umt::model
