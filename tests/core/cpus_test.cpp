// usable_cores counts the CPUs the process may run on, as a Slurm allocation or taskset limits them.
#include <sched.h>

#include <gtest/gtest.h>

#include "umt/core/cpus.hpp"

namespace umt {
namespace {

TEST(UsableCores, FollowTheAffinityMaskNotTheMachine) {
    cpu_set_t all;
    CPU_ZERO(&all);
    ASSERT_EQ(sched_getaffinity(0, sizeof(all), &all), 0);
    EXPECT_EQ(usable_cores(), CPU_COUNT(&all));
    int first = 0;
    while (!CPU_ISSET(first, &all)) ++first;
    cpu_set_t one;
    CPU_ZERO(&one);
    CPU_SET(first, &one);
    ASSERT_EQ(sched_setaffinity(0, sizeof(one), &one), 0);
    const int limited = usable_cores();
    ASSERT_EQ(sched_setaffinity(0, sizeof(all), &all), 0);
    EXPECT_EQ(limited, 1);
}

}  // namespace
}  // namespace umt
