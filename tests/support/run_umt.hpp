// Running the real umt binary (or another command) from a test: exit status and everything it printed.
#pragma once

#include <sys/wait.h>

#include <array>
#include <cstdio>
#include <string>

namespace umt::testing {

struct RunResult {
    int rc = -1;
    std::string output;  // stdout and stderr
};

// Runs a shell command line; its output is stdout and stderr together.
inline RunResult run_command(const std::string& cmd) {
    RunResult r;
    FILE* p = ::popen((cmd + " 2>&1").c_str(), "r");
    if (!p) return r;
    std::array<char, 4096> buf;
    size_t n;
    while ((n = std::fread(buf.data(), 1, buf.size(), p)) > 0) r.output.append(buf.data(), n);
    int status = ::pclose(p);
    r.rc = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    return r;
}

// Runs umt with `args` (already shell-quoted where needed).
inline RunResult umt_run(const std::string& args) { return run_command(std::string(UMT_EXE) + " " + args); }

}  // namespace umt::testing
