// libFuzzer harness: the LMX tokenizer and delinearizer take any text without crashing.
#include <cstddef>
#include <cstdint>
#include <string>

#include "umt/core/error.hpp"
#include "umt/io/lmx.hpp"
#include "umt/io/musicxml.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    std::string text(reinterpret_cast<const char*>(data), size);
    try {
        std::vector<std::string> warnings;
        umt::Score s = umt::lmx::delinearize_score(umt::lmx::tokenize(text), &warnings);
        // The delinearizer promises valid MusicXML even from garbage.
        umt::Score back = umt::parse_musicxml(umt::write_musicxml(s), "fuzz-rewritten");
        umt::lmx::linearize(back.parts.at(0));
    } catch (const umt::Error&) {
    }
    return 0;
}
