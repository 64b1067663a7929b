// The task table and the decoding settings every task shares.
#include "umt/tasks/task_table.hpp"

#include <algorithm>

#include "umt/core/error.hpp"

namespace umt::tasks {

using model::Direction;
using tokens::Modality;

const std::vector<TaskSpec>& task_table() {
    static const std::vector<TaskSpec> table{
        {Task::Omr, "omr", Direction::TowardAudio, Modality::Image, Modality::Lmx, SamplerDefault::Greedy, kRepetitionStop},
        // Transcription wants the likely notes with a little diversity to leave loops: MT3-like.
        {Task::Amt, "amt", Direction::TowardImage, Modality::Audio, Modality::Midi, SamplerDefault::TopP, kRepetitionStop},
        {Task::Engrave, "engrave", Direction::TowardImage, Modality::Lmx, Modality::Image, SamplerDefault::Multinomial, 0},
        {Task::Synth, "synth", Direction::TowardAudio, Modality::Midi, Modality::Audio, SamplerDefault::Multinomial, 0},
        {Task::ImageToAudio, "i2a", Direction::TowardAudio, Modality::Image, Modality::Audio, SamplerDefault::Multinomial, 0},
        {Task::AudioToImage, "a2i", Direction::TowardImage, Modality::Audio, Modality::Image, SamplerDefault::Multinomial, 0},
    };
    return table;
}

const TaskSpec& task_spec(Task task) {
    for (const auto& spec : task_table())
        if (spec.task == task) return spec;
    throw Error("internal: a task missing from the task table");
}

void DecodeSettings::validate() const {
    if (temperature && !(*temperature >= 0.0f))
        throw Error("--temperature must be >= 0 (0 = greedy), got " + std::to_string(*temperature));
    if (top_p && !(*top_p > 0.0f && *top_p <= 1.0f)) throw Error("--top-p must be in (0, 1], got " + std::to_string(*top_p));
    if (top_k && *top_k < 0) throw Error("--top-k must be >= 0 (0 = off)");
    if (max_len < 0) throw Error("--max-len must be >= 0 (0 = tied to the input)");
    if (batch < 1) throw Error("--batch must be >= 1");
}

model::SamplerOptions sampler_for(SamplerDefault task_default, const DecodeSettings& s) {
    s.validate();
    float temperature = 1.0f, top_p = 1.0f;
    switch (task_default) {
        case SamplerDefault::Greedy: temperature = 0.0f; break;
        case SamplerDefault::TopP: temperature = 0.8f; top_p = 0.9f; break;
        case SamplerDefault::Multinomial: break;
    }
    if (task_default == SamplerDefault::Greedy && !s.temperature && (s.top_p || s.top_k)) temperature = 1.0f;
    if (s.temperature) temperature = *s.temperature;
    if (s.top_p) top_p = *s.top_p;
    int top_k = s.top_k.value_or(0);
    if (temperature == 0.0f) return model::SamplerOptions::greedy();
    return model::SamplerOptions::sample(temperature, top_k, top_p, s.seed);
}

model::DecodeOptions decode_options(const TaskSpec& spec, const DecodeSettings& s) {
    model::DecodeOptions opt;
    opt.target = spec.target;
    opt.sampler = sampler_for(spec.sampler, s);
    opt.batch_size = s.batch;
    opt.repetition_stop = spec.repetition_stop;
    return opt;
}

bool bundle_supports(const model::ModelBundle& bundle, const TaskSpec& spec) {
    const auto& c = bundle.config();
    if (c.tasks) return std::find(c.tasks->begin(), c.tasks->end(), spec.name) != c.tasks->end();
    return c.has_translator(spec.direction);
}

}  // namespace umt::tasks
