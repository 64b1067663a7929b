// The fixed LMX vocabulary (224 tokens, docs/LMX.md order) and the tokenizer.
#include <sstream>
#include <unordered_set>

#include "umt/io/lmx.hpp"

namespace umt::lmx {

namespace {

std::vector<std::string> build_vocabulary() {
    std::vector<std::string> v;
    v.push_back("measure");
    for (int k = -7; k <= 7; ++k) v.push_back("key:fifths:" + std::to_string(k));
    v.push_back("time");
    for (int b = 1; b <= 16; ++b) v.push_back("beats:" + std::to_string(b));
    for (int t : {2, 4, 8, 16}) v.push_back("beat-type:" + std::to_string(t));
    for (char sign : {'G', 'C', 'F'})
        for (int line = 1; line <= 5; ++line) v.push_back(std::string("clef:") + sign + std::to_string(line));
    for (const char* t : {"print-object:no", "grace", "grace:slash", "chord"}) v.push_back(t);
    for (int octave = 0; octave <= 9; ++octave)
        for (char step : {'C', 'D', 'E', 'F', 'G', 'A', 'B'}) v.push_back(std::string(1, step) + std::to_string(octave));
    for (const char* t : {"rest", "forward", "backup"}) v.push_back(t);
    for (int voice = 1; voice <= 12; ++voice) v.push_back("voice:" + std::to_string(voice));
    for (const char* t : {"1024th", "512th", "256th", "128th", "64th", "32nd", "16th", "eighth", "quarter",
                          "half", "whole", "breve", "long", "maxima", "rest:measure"})
        v.push_back(t);
    for (const char* t : {"3in2", "6in4", "2in1", "2in3", "5in4", "7in8", "7in6", "9in8", "4in3", "7in4",
                          "4in6", "13in8", "22in16", "10in4", "12in8", "9in4", "10in8", "18in4", "16in8",
                          "15in8", "5in3", "11in8", "11in12", "5in2", "8in2", "4in2", "7in1", "35in16", "9in2"})
        v.push_back(t);
    v.push_back("dot");
    for (const char* t : {"sharp", "flat", "natural", "double-sharp", "flat-flat", "natural-sharp", "natural-flat"})
        v.push_back(t);
    for (const char* t : {"stem:up", "stem:down", "stem:none"}) v.push_back(t);
    for (const char* t : {"staff:1", "staff:2", "staff:3"}) v.push_back(t);
    for (const char* t : {"beam:begin", "beam:end", "beam:forward-hook", "beam:backward-hook"}) v.push_back(t);
    for (const char* t : {"tied:start", "tied:stop", "tuplet:start", "tuplet:stop"}) v.push_back(t);
    for (const char* t : {"slur:start", "slur:stop", "fermata", "arpeggiate", "staccato", "accent",
                          "strong-accent", "tenuto", "trill-mark"})
        v.push_back(t);
    for (const char* t : {"tremolo:single", "tremolo:start", "tremolo:stop", "tremolo:unmeasured",
                          "tremolo:1", "tremolo:2", "tremolo:3", "tremolo:4"})
        v.push_back(t);
    return v;
}

}  // namespace

const std::vector<std::string>& vocabulary() {
    static const std::vector<std::string> v = build_vocabulary();
    return v;
}

bool is_token(const std::string& token) {
    static const std::unordered_set<std::string> set(vocabulary().begin(), vocabulary().end());
    return set.count(token) > 0;
}

std::vector<std::string> tokenize(const std::string& text) {
    std::vector<std::string> out;
    std::istringstream in(text);
    std::string t;
    while (in >> t) out.push_back(t);
    return out;
}

std::string join(const std::vector<std::string>& tokens) {
    std::string out;
    for (size_t i = 0; i < tokens.size(); ++i) {
        if (i) out += ' ';
        out += tokens[i];
    }
    return out;
}

}  // namespace umt::lmx
