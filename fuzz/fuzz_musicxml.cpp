// libFuzzer harness: the MusicXML/.mxl reader, then writer and linearizer, must never crash.
#include <cstddef>
#include <cstdint>
#include <string>

#include "umt/core/error.hpp"
#include "umt/io/lmx.hpp"
#include "umt/io/musicxml.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    std::string bytes(reinterpret_cast<const char*>(data), size);
    try {
        bool zip = bytes.compare(0, 4, "PK\x03\x04") == 0;
        umt::Score s = zip ? umt::parse_mxl(bytes, "fuzz.mxl") : umt::parse_musicxml(bytes, "fuzz.musicxml");
        // What was read must also write and linearize without crashing.
        std::string xml = umt::write_musicxml(s);
        for (const auto& part : s.parts) {
            umt::lmx::linearize(part);
            umt::lmx::linearize_systems(part);
        }
        umt::parse_musicxml(xml, "fuzz-rewritten");
    } catch (const umt::Error&) {
        // a clear error is the expected outcome for bad input
    }
    return 0;
}
