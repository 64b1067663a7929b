// SHA-256 of files, to check a model bundle against the hashes in its manifest (OpenSSL libcrypto).
#pragma once

#include <string>

namespace umt::model {

// Lower-case hex digest of the bytes.
std::string sha256_hex(const std::string& bytes);

// The digest of a file, remembered in a cache ($XDG_CACHE_HOME/umt/sha256.tsv, else
// ~/.cache/umt/sha256.tsv) keyed by device, inode, size, mtime and ctime: a file that none of
// those changed on is not read again (ctime cannot be set back by a program, so a rewrite of the
// same size at the same mtime still shows). Without a writable cache folder every call hashes.
std::string sha256_file(const std::string& path);

// false: sha256_file always reads and hashes (umt info --verify, UMT_HASH_CACHE=0).
void set_hash_cache_enabled(bool enabled);

}  // namespace umt::model
