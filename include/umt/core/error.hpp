// One error type with a message a user can act on: the file, what is wrong.
#pragma once

#include <stdexcept>
#include <string>

namespace umt {

class Error : public std::runtime_error {
public:
    explicit Error(const std::string& what) : std::runtime_error(what) {}
    Error(const std::string& file, const std::string& what) : std::runtime_error(file + ": " + what) {}
};

}  // namespace umt
