// The decoding loop (docs/DESIGN.md section 5) over the TorchScript translator; Python twin: umt_model/decode.py.
#include "umt/model/translator.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <numeric>
#include <utility>

#include <torch/script.h>
#include <torch/torch.h>

#include "umt/core/error.hpp"
#include "umt/model/codec.hpp"
#include "umt/model/stop_rule.hpp"
#include "sampler.hpp"

namespace umt::model {

using tokens::Frame;
using tokens::kSlots;
using tokens::Position;

void DecodeOptions::validate() const {
    sampler.validate();
    if (batch_size < 1) throw Error("batch size must be >= 1");
}

void SamplerOptions::validate() const {
    if (kind == Kind::Greedy) return;
    if (!(temperature > 0.0f)) throw Error("sampling temperature must be > 0 (got " + std::to_string(temperature) + ")");
    if (top_k < 0) throw Error("top-k must be >= 0 (0 = off)");
    if (!(top_p > 0.0f && top_p <= 1.0f)) throw Error("top-p must be in (0, 1] (got " + std::to_string(top_p) + ")");
}

struct Translator::Impl {
    torch::jit::Module module;
};

namespace {

c10::TypePtr kv_tuple_type() { return c10::TupleType::create({c10::TensorType::get(), c10::TensorType::get()}); }

c10::impl::GenericList empty_cache() { return c10::impl::GenericList(kv_tuple_type()); }

c10::impl::GenericList select_rows(const c10::IValue& list, const torch::Tensor& idx) {
    c10::impl::GenericList out(kv_tuple_type());
    for (const c10::IValue& e : list.toList()) {
        const auto& t = e.toTupleRef().elements();
        out.push_back(c10::ivalue::Tuple::create(t[0].toTensor().index_select(0, idx), t[1].toTensor().index_select(0, idx)));
    }
    return out;
}

torch::Tensor frames_tensor(const std::vector<std::vector<Frame>>& rows) {
    size_t t = rows.empty() ? 0 : rows[0].size();
    auto out = torch::empty({int64_t(rows.size()), int64_t(t), kSlots}, torch::kLong);
    auto* p = out.data_ptr<int64_t>();
    for (const auto& r : rows)
        for (const auto& f : r) p = std::copy(f.begin(), f.end(), p);
    return out;
}

torch::Tensor pos_tensor(const std::vector<std::vector<Position>>& rows) {
    size_t t = rows.empty() ? 0 : rows[0].size();
    auto out = torch::empty({int64_t(rows.size()), int64_t(t), 2}, torch::kLong);
    auto* p = out.data_ptr<int64_t>();
    for (const auto& r : rows)
        for (const auto& q : r) p = std::copy(q.begin(), q.end(), p);
    return out;
}

// Encoder input of a batch of frame requests, padded with PAD frames (masked out by the network).
std::pair<torch::Tensor, torch::Tensor> frame_input(const std::vector<size_t>& rows,
                                                    const std::vector<DecodeRequest>& requests) {
    size_t s = 0;
    for (size_t r : rows) {
        if (requests[r].pixels.width > 0 || !requests[r].wave.samples.empty())
            throw Error("decode request: a batch mixes pixel or audio inputs and frame inputs");
        if (requests[r].input.frames.size() != requests[r].input.pos.size())
            throw Error("decode request: frames and positions differ in length");
        s = std::max(s, requests[r].input.frames.size());
    }
    const int64_t b = int64_t(rows.size());
    auto src = torch::zeros({b, int64_t(s), kSlots}, torch::kLong);
    auto src_pos = torch::zeros({b, int64_t(s), 2}, torch::kLong);
    for (int64_t i = 0; i < b; ++i) {
        const auto& in = requests[rows[size_t(i)]].input;
        auto* f = src[i].data_ptr<int64_t>();
        for (const auto& fr : in.frames) f = std::copy(fr.begin(), fr.end(), f);
        auto* p = src_pos[i].data_ptr<int64_t>();
        for (const auto& q : in.pos) p = std::copy(q.begin(), q.end(), p);
    }
    return {src, src_pos};
}

// Encoder input of a batch of waveform requests: samples [B,N] (zero beyond each input) and each
// input's length in samples, as scripts/train_amt.py builds.
std::pair<torch::Tensor, torch::Tensor> wave_input(const std::vector<size_t>& rows,
                                                   const std::vector<DecodeRequest>& requests) {
    size_t n = 0;
    for (size_t r : rows) {
        if (requests[r].wave.samples.empty() || requests[r].pixels.width > 0)
            throw Error("decode request: a batch mixes audio and other inputs");
        n = std::max(n, requests[r].wave.samples.size());
    }
    const int64_t b = int64_t(rows.size());
    auto wave = torch::zeros({b, int64_t(n)}, torch::kFloat);
    auto length = torch::zeros({b}, torch::kLong);
    auto* len = length.data_ptr<int64_t>();
    for (int64_t i = 0; i < b; ++i) {
        const auto& x = requests[rows[size_t(i)]].wave.samples;
        std::copy(x.begin(), x.end(), wave[i].data_ptr<float>());
        len[i] = int64_t(x.size());
    }
    return {wave, length};
}

constexpr int kCell = ImageCodec::kDownsample;  // the pixel stem reads the codec's grid of cells

// Encoder input of a batch of pixel requests: ink in [0, 1] as [B,1,H,W] (zero beyond each
// image) and each image's (rows, columns) of 16-pixel cells, as scripts/train_translator.py builds.
std::pair<torch::Tensor, torch::Tensor> ink_input(const std::vector<size_t>& rows,
                                                  const std::vector<DecodeRequest>& requests) {
    int h = 0, w = 0;
    for (size_t r : rows) {
        const auto& im = requests[r].pixels;
        if (im.width <= 0 || !requests[r].wave.samples.empty())
            throw Error("decode request: a batch mixes pixel and other inputs");
        if (im.height % kCell || im.width % kCell || im.ink.size() != size_t(im.height) * size_t(im.width))
            throw Error("decode request: a pixel input must be 16-pixel cells, height x width bytes");
        h = std::max(h, im.height);
        w = std::max(w, im.width);
    }
    const int64_t b = int64_t(rows.size());
    auto ink = torch::zeros({b, 1, h, w}, torch::kFloat);
    auto size = torch::zeros({b, 2}, torch::kLong);
    for (int64_t i = 0; i < b; ++i) {
        const auto& im = requests[rows[size_t(i)]].pixels;
        auto* dst = ink[i][0].data_ptr<float>();
        for (int y = 0; y < im.height; ++y)
            for (int x = 0; x < im.width; ++x)
                dst[int64_t(y) * w + x] = float(im.ink[size_t(y) * size_t(im.width) + size_t(x)]) / 255.0f;
        size[i][0] = im.height / kCell;
        size[i][1] = im.width / kCell;
    }
    return {ink, size};
}

}  // namespace

Translator::Translator(const std::string& path, const tokens::Vocabulary& vocabulary)
    : impl_(std::make_unique<Impl>()), vocab_(&vocabulary) {
    try {
        impl_->module = torch::jit::load(path, torch::kCPU);
    } catch (const std::exception& e) {
        std::string msg = e.what();
        msg = msg.substr(0, msg.find('\n'));
        throw Error(path, "not a loadable TorchScript translator (" + msg + ")");
    }
    impl_->module.to(torch::kFloat);  // bundles may store translator weights as float16
    impl_->module.eval();
    for (const char* m : {"encode", "init_cross", "decode_step", "sub_step"})
        if (!impl_->module.find_method(m)) throw Error(path, std::string("the translator lacks the method ") + m);
}

Translator::~Translator() = default;

// Every exported translator has the method; only one with the mel stem has a frame head behind it.
bool Translator::has_frame_head() const {
    if (!impl_->module.find_method("transcribe_frames")) return false;
    for (const auto& p : impl_->module.named_parameters())
        if (p.name.rfind("frame_head.", 0) == 0) return true;
    return false;
}

std::vector<HeardNote> Translator::transcribe_frames(const std::vector<float>& samples, tokens::Modality target,
                                                     double onset_threshold, double frame_threshold) const {
    if (!has_frame_head()) throw Error("this translator has no frame head (it does not hear audio features)");
    auto method = impl_->module.find_method("transcribe_frames");
    for (double t : {onset_threshold, frame_threshold})
        if (!(t > 0.0 && t < 1.0)) throw Error("a frame-head threshold must be between 0 and 1, not " + std::to_string(t));
    std::vector<HeardNote> out;
    if (samples.empty()) return out;
    c10::InferenceMode inference_mode;
    auto wave = torch::from_blob(const_cast<float*>(samples.data()), {int64_t(samples.size())}, torch::kFloat);
    auto notes = (*method)({wave, int64_t(target), onset_threshold, frame_threshold}).toTensor().to(torch::kFloat).contiguous();
    const auto* p = notes.data_ptr<float>();
    for (int64_t i = 0; i < notes.size(0); ++i, p += 4)
        out.push_back({int(std::lround(p[0])), double(p[1]), double(p[2]), int(std::lround(p[3]))});
    return out;
}

namespace {

// The TorchScript methods of the interface (docs/DESIGN.md section 4).
struct Methods {
    explicit Methods(torch::jit::Module& mod)
        : encode(mod.get_method("encode")),
          encode_pixels(mod.find_method("encode_pixels")),  // bundles before the pixel stem lack it
          encode_audio(mod.find_method("encode_audio")),    // bundles before the mel stem lack it
          init_cross(mod.get_method("init_cross")),
          decode_step(mod.get_method("decode_step")),
          sub_step(mod.get_method("sub_step")) {}
    torch::jit::Method encode;
    c10::optional<torch::jit::Method> encode_pixels;
    c10::optional<torch::jit::Method> encode_audio;
    torch::jit::Method init_cross;
    torch::jit::Method decode_step;
    torch::jit::Method sub_step;
};

// Batches of at most batch_size requests; rows of one batch share the prefix length, so every
// row is at the same step.
std::vector<std::vector<size_t>> batches_by_prefix(const std::vector<DecodeRequest>& requests, int batch_size) {
    std::vector<size_t> order(requests.size());
    std::iota(order.begin(), order.end(), 0);
    std::stable_sort(order.begin(), order.end(),
                     [&](size_t a, size_t b) { return requests[a].prefix.size() < requests[b].prefix.size(); });
    std::vector<std::vector<size_t>> batches;
    for (size_t i0 = 0; i0 < order.size();) {
        size_t i1 = i0;
        while (i1 < order.size() && int(i1 - i0) < batch_size &&
               requests[order[i1]].prefix.size() == requests[order[i0]].prefix.size())
            ++i1;
        batches.emplace_back(order.begin() + long(i0), order.begin() + long(i1));
        i0 = i1;
    }
    return batches;
}

// The encoder's memory and key mask for one batch (pixel, waveform or frame inputs; one kind per batch).
std::pair<torch::Tensor, torch::Tensor> encode_batch(Methods& m, const std::vector<size_t>& rows,
                                                     const std::vector<DecodeRequest>& requests, tokens::Modality target) {
    if (rows.size() > 1 && requests[rows[0]].pixels.width > 0) {
        // Images one at a time: systems of a batch differ in size, and the CNN would read every
        // one at the largest's (3 s for 7 dev systems against 1.4 s). The encoder masks what lies
        // beyond an image, so each row's memory is what it is alone; the rows are then padded.
        std::vector<torch::Tensor> mems, masks;
        int64_t len = 0;
        for (size_t r : rows) {
            auto [mem, mask] = encode_batch(m, {r}, requests, target);
            len = std::max(len, mem.size(1));
            mems.push_back(mem);
            masks.push_back(mask);
        }
        auto memory = torch::zeros({int64_t(rows.size()), len, mems[0].size(2)}, mems[0].options());
        auto mask = torch::zeros({int64_t(rows.size()), len}, masks[0].options());
        for (size_t i = 0; i < rows.size(); ++i) {
            memory[int64_t(i)].slice(0, 0, mems[i].size(1)).copy_(mems[i][0]);
            mask[int64_t(i)].slice(0, 0, masks[i].size(1)).copy_(masks[i][0]);
        }
        return {memory, mask};
    }
    auto tgt_all = torch::full({int64_t(rows.size())}, int64_t(target), torch::kLong);
    c10::intrusive_ptr<c10::ivalue::Tuple> enc;
    if (requests[rows[0]].pixels.width > 0) {
        if (!m.encode_pixels) throw Error("this translator does not read pixels (no encode_pixels)");
        auto [ink, size] = ink_input(rows, requests);
        enc = (*m.encode_pixels)({ink, size, tgt_all}).toTuple();
    } else if (!requests[rows[0]].wave.samples.empty()) {
        if (!m.encode_audio) throw Error("this translator does not hear audio features (no encode_audio)");
        auto [wave, length] = wave_input(rows, requests);
        enc = (*m.encode_audio)({wave, length, tgt_all}).toTuple();
    } else {
        auto [src, src_pos] = frame_input(rows, requests);
        enc = m.encode({src, src_pos, tgt_all}).toTuple();
    }
    return {enc->elements()[0].toTensor(), enc->elements()[1].toTensor()};
}

// The sub-decoder's 4 slots of every alive row's next frame: slot j sees slots < j, and an id
// that fills a whole frame (SEP, a height token) in slot 0 is repeated in every slot.
torch::Tensor next_frames(Methods& m, const tokens::Vocabulary& V, const torch::Tensor& h, tokens::Modality target,
                          const std::vector<int64_t>& alive, Sampler& sampler) {
    const int64_t n = int64_t(alive.size());
    torch::Tensor frame = torch::zeros({n, kSlots}, torch::kLong);
    torch::Tensor tgt = torch::full({n}, int64_t(target), torch::kLong);
    auto* fp = frame.data_ptr<int64_t>();
    torch::Tensor logits = m.sub_step({h, frame.slice(1, 0, 0), tgt}).toTensor();
    sampler.pick(logits, alive, fp, kSlots);
    // A whole-frame token (every LMX and MIDI token) fills all slots: its row needs no further
    // sub-decoder passes, and the sampler draws nothing more for it (so a row's draws do not
    // depend on the other rows of its batch). The other rows go on through slots 1..3.
    std::vector<int64_t> part, part_alive;
    for (int64_t k = 0; k < n; ++k) {
        if (V.is_whole_frame(fp[k * kSlots])) {
            for (int j = 1; j < kSlots; ++j) fp[k * kSlots + j] = fp[k * kSlots];
        } else {
            part.push_back(k);
            part_alive.push_back(alive[size_t(k)]);
        }
    }
    if (part.empty()) return frame;
    torch::Tensor idx = torch::tensor(part, torch::kLong);
    torch::Tensor hp = h.index_select(0, idx);
    torch::Tensor tp = tgt.index_select(0, idx);
    std::vector<int64_t> picked(part.size());
    for (int j = 1; j < kSlots; ++j) {
        torch::Tensor codes = frame.index_select(0, idx).slice(1, 0, j);
        sampler.pick(m.sub_step({hp, codes, tp}).toTensor(), part_alive, picked.data(), 1);
        for (size_t i = 0; i < part.size(); ++i) fp[part[i] * kSlots + j] = picked[i];
    }
    return frame;
}

// One batch of requests through the loop: encode, then one frame per step until every row stopped.
void decode_batch(Methods& m, const tokens::Vocabulary& V, const std::vector<DecodeRequest>& requests,
                  const std::vector<size_t>& rows, const DecodeOptions& opt, std::vector<DecodeResult>& results,
                  DecodeStats* stats) {
    const auto target = opt.target;
    const int64_t b = int64_t(rows.size());
    const size_t prefix_len = requests[rows[0]].prefix.size();
    int max_steps = opt.max_steps > 0 ? opt.max_steps : V.max_length(target) - 1 - int(prefix_len);
    if (max_steps < 1) throw Error("the prefix fills the model's whole output length");
    // Each row may stop earlier at its own limit; the batch runs until its longest limit.
    std::vector<int> row_limit;
    for (size_t r : rows)
        row_limit.push_back(requests[r].max_steps > 0 ? std::min(requests[r].max_steps, max_steps) : max_steps);
    max_steps = *std::max_element(row_limit.begin(), row_limit.end());

    const auto encode_start = std::chrono::steady_clock::now();
    auto [memory, mask] = encode_batch(m, rows, requests, target);
    c10::IValue cross = m.init_cross({memory});
    if (stats) stats->encode_seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - encode_start).count();
    c10::IValue cache = empty_cache();

    std::vector<tokens::PositionTracker> trackers;
    std::vector<std::vector<Frame>> seqs(static_cast<size_t>(b));
    std::vector<std::vector<Position>> positions(static_cast<size_t>(b));
    for (int64_t i = 0; i < b; ++i) {
        trackers.emplace_back(V, target);
        auto& seq = seqs[size_t(i)];
        seq.push_back(V.begin(target));
        for (const auto& f : requests[rows[size_t(i)]].prefix) seq.push_back(f);
        for (const auto& f : seq) positions[size_t(i)].push_back(trackers.back().next(f));
    }
    std::vector<size_t> streams;
    for (size_t r : rows) streams.push_back(requests[r].seed_index >= 0 ? size_t(requests[r].seed_index) : r);
    Sampler sampler(opt.sampler, streams);
    const StopRule stop(V, target, opt.repetition_stop);
    std::vector<int64_t> alive(static_cast<size_t>(b));
    std::iota(alive.begin(), alive.end(), 0);
    torch::Tensor new_frames = frames_tensor(seqs);
    torch::Tensor new_pos = pos_tensor(positions);

    for (int step = 0; step < max_steps; ++step) {
        torch::Tensor hidden;
        if (opt.use_cache) {
            auto out = m.decode_step({new_frames, new_pos, cross, mask, cache}).toTuple();
            hidden = out->elements()[0].toTensor();
            cache = out->elements()[1];
        } else {
            std::vector<std::vector<Frame>> fs;
            std::vector<std::vector<Position>> ps;
            for (int64_t r : alive) {
                fs.push_back(seqs[size_t(r)]);
                ps.push_back(positions[size_t(r)]);
            }
            hidden = m.decode_step({frames_tensor(fs), pos_tensor(ps), cross, mask, empty_cache()}).toTuple()->elements()[0].toTensor();
        }
        if (stats) ++stats->steps;
        torch::Tensor frame = next_frames(m, V, hidden.select(1, hidden.size(1) - 1), target, alive, sampler);
        const auto* fp = frame.data_ptr<int64_t>();
        const int64_t n = int64_t(alive.size());
        std::vector<int64_t> keep;
        std::vector<std::vector<Frame>> next_frame;
        std::vector<std::vector<Position>> next_pos;
        for (int64_t k = 0; k < n; ++k) {
            int64_t r = alive[size_t(k)];
            Frame f;
            std::copy(fp + k * kSlots, fp + (k + 1) * kSlots, f.begin());
            auto& res = results[rows[size_t(r)]];
            if (stats) ++stats->row_steps;
            auto verdict = stop.accept(f, step, row_limit[size_t(r)], res.frames);
            res.ended = verdict == StopRule::Verdict::Ended;
            res.looped = verdict == StopRule::Verdict::Looped;
            if (verdict != StopRule::Verdict::Continue) continue;  // the row drops out
            seqs[size_t(r)].push_back(f);
            Position p = trackers[size_t(r)].next(f);
            positions[size_t(r)].push_back(p);
            keep.push_back(k);
            next_frame.push_back({f});
            next_pos.push_back({p});
        }
        if (keep.empty()) break;
        if (int64_t(keep.size()) < n) {
            auto idx = torch::tensor(keep, torch::kLong);
            cross = select_rows(cross, idx);
            mask = mask.index_select(0, idx);
            if (opt.use_cache) cache = select_rows(cache, idx);
        }
        std::vector<int64_t> still;
        for (int64_t k : keep) still.push_back(alive[size_t(k)]);
        alive = std::move(still);
        new_frames = frames_tensor(next_frame);
        new_pos = pos_tensor(next_pos);
    }
}

}  // namespace

std::vector<DecodeResult> Translator::decode(const std::vector<DecodeRequest>& requests, const DecodeOptions& opt,
                                             DecodeStats* stats) const {
    opt.validate();
    auto started = std::chrono::steady_clock::now();
    c10::InferenceMode inference_mode;  // cheaper than NoGradGuard: no version counters or autograd metadata
    Methods methods(impl_->module);
    std::vector<DecodeResult> results(requests.size());
    for (const auto& rows : batches_by_prefix(requests, opt.batch_size))
        decode_batch(methods, *vocab_, requests, rows, opt, results, stats);
    if (stats)
        stats->seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    return results;
}

}  // namespace umt::model
