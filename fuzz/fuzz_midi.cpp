// libFuzzer harness: parse_midi must never crash; what parses must write, re-parse and tokenize.
#include <cstdint>
#include <cstdlib>
#include <string>

#include "umt/core/error.hpp"
#include "umt/core/quantize.hpp"
#include "umt/io/midi.hpp"
#include "umt/tokens/midi_tokens.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    const std::string bytes(reinterpret_cast<const char*>(data), size);
    umt::Performance perf;
    try {
        perf = umt::parse_midi(bytes, "fuzz.mid");
    } catch (const umt::Error&) {
        return 0;  // a clear error is the expected outcome for junk
    }
    // Our own output must always read back.
    try {
        umt::parse_midi(umt::write_midi(perf), "rewritten.mid");
    } catch (const umt::Error&) {
        std::abort();
    }
    // Keep the downstream work bounded: hour-long silences would only cost time.
    if (perf.end_s() < 120.0 && perf.notes.size() < 4000) {
        const auto segments = umt::midi_tokens::encode(perf);
        umt::midi_tokens::decode(segments);
        if (!segments.empty()) umt::midi_tokens::decode_segment(segments.front());
        try {
            if (umt::seconds_to_quarters(perf.tempos, perf.end_s()) < 2000.0) umt::quantize_performance(perf);
        } catch (const umt::Error&) {
            // refusing an absurdly long score is a clean outcome
        }
    }
    return 0;
}
