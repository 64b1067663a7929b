// SHA-256 of files, to check a model bundle against the hashes in its manifest (OpenSSL libcrypto).
#pragma once

#include <string>

namespace umt::model {

// Lower-case hex digest of the bytes.
std::string sha256_hex(const std::string& bytes);

}  // namespace umt::model
