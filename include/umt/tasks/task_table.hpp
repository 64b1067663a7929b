// The task table: for each of the six neural translations, the translator that runs it, its input
// and target modalities, its default sampler and its stop rule (docs/DESIGN.md sections 1 and 5);
// and the user's decoding settings that override the defaults.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "umt/model/bundle.hpp"
#include "umt/model/decode_pool.hpp"
#include "umt/model/translator.hpp"
#include "umt/tokens/vocabulary.hpp"

namespace umt::tasks {

enum class Task { Omr, Amt, Engrave, Synth, ImageToAudio, AudioToImage };

// The sampler defaults of docs/DESIGN.md section 5.
enum class SamplerDefault { Greedy, TopP, Multinomial };

// Single-stream outputs (LMX, MIDI events) stop when they loop; audio and images legitimately
// repeat codes (silence, white columns), so only their length limit guards them.
constexpr int kRepetitionStop = 6;

struct TaskSpec {
    Task task;
    const char* name;            // the subcommand, and the entry of a manifest's "tasks" list
    model::Direction direction;  // the translator that runs it
    tokens::Modality input;
    tokens::Modality target;
    SamplerDefault sampler;
    int repetition_stop;  // model::DecodeOptions::repetition_stop (0 = end frame and length only)
};

// Every task, in the order the CLI lists them.
const std::vector<TaskSpec>& task_table();
const TaskSpec& task_spec(Task task);

// User overrides of a task's decoding defaults (the CLI's --temperature, --top-p, ... flags).
struct DecodeSettings {
    std::optional<float> temperature;  // 0 = greedy; > 0 turns a greedy task into sampling
    std::optional<float> top_p;
    std::optional<int> top_k;
    uint64_t seed = 0;
    int max_len = 0;  // frames per decoded sequence at most (0 = tied to the input size)
    int batch = 8;    // sequences decoded together
    // When set, requests decode in batches shared with the pool's other threads (a folder of
    // inputs); null: each call decodes alone.
    model::DecodePool* pool = nullptr;
    // Throws umt::Error explaining an invalid value, in the CLI's terms. The one check of the
    // user's settings: sampler_for and decode_options build on it.
    void validate() const;
};

// The sampler a task default becomes under the user's settings; throws as validate().
model::SamplerOptions sampler_for(SamplerDefault task_default, const DecodeSettings& s);
// The decoding loop's options for a task under the user's settings; throws as validate().
model::DecodeOptions decode_options(const TaskSpec& spec, const DecodeSettings& s);

// Whether the bundle is meant to run a task: the manifest's "tasks" list when it has one, else
// whether it has a translator for the task's direction.
bool bundle_supports(const model::ModelBundle& bundle, const TaskSpec& spec);

}  // namespace umt::tasks
