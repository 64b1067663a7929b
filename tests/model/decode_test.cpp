// The C++ decoding loop against the Python reference on a tiny random bundle exported at test time.
#include <unistd.h>

#include <cmath>
#include <functional>
#include <set>
#include <thread>

#include "model_fixture.hpp"
#include "umt/core/error.hpp"
#include "umt/model/bundle.hpp"
#include "umt/model/decode_pool.hpp"
#include "umt/tasks/amt.hpp"
#include "umt/tasks/inputs.hpp"

namespace umt {
namespace {

using tokens::Frame;
using tokens::Modality;
using tokens::Sequence;

constexpr int kMaxSteps = 40;

struct Inputs {
    std::vector<Sequence> images;  // image-code inputs (OMR-like: image -> LMX)
    std::vector<Sequence> midi;    // MIDI event inputs (synthesis-like: MIDI -> audio)
};

Inputs make_inputs(const tokens::Vocabulary& v) {
    std::mt19937 rng(7);
    Inputs in;
    for (int i = 0; i < 5; ++i) {
        std::vector<tokens::CodeGrid> systems{testing::random_grid(2 + i % 3, 2 + i, v.codebook_size(Modality::Image), rng)};
        if (i == 3) systems.push_back(testing::random_grid(4, 2, v.codebook_size(Modality::Image), rng));
        in.images.push_back(v.image_frames(systems));
        in.midi.push_back(v.midi_frames(testing::random_midi(4 + 5 * i, rng)));
    }
    return in;
}

// Slot j holds a code of codebook j or its end token (a frame ends only when all four do).
bool slots_in_codebooks(const tokens::Vocabulary& v, Modality m, const Frame& f) {
    for (int j = 0; j < tokens::kSlots; ++j)
        if (v.value_of(m, j, f[j]) < 0 && f[j] != v.end(m)[j]) return false;
    return true;
}

std::vector<model::DecodeRequest> requests_of(const std::vector<Sequence>& inputs, const std::vector<Frame>& prefix = {}) {
    std::vector<model::DecodeRequest> r;
    for (const auto& s : inputs) r.push_back({s, prefix});
    return r;
}

class DecodeTest : public ::testing::Test {
protected:
    static void SetUpTestSuite() {
        dir_ = new std::string(testing::tiny_bundle());
        bundle_ = new model::ModelBundle(*dir_);
    }
    static void TearDownTestSuite() {
        delete bundle_;
        delete dir_;
    }
    // Decodes with every combination of batching and caching and checks each against `expected`.
    void expect_all_modes(Modality target, const std::vector<Sequence>& inputs,
                          const std::vector<std::vector<Frame>>& expected, model::ModelBundle* bundle = nullptr) {
        auto& tr = (bundle ? bundle : bundle_)->translator(model::Direction::TowardAudio);
        for (bool cache : {true, false})
            for (int batch : {1, 3, 8}) {
                model::DecodeOptions opt;
                opt.target = target;
                opt.max_steps = kMaxSteps;
                opt.use_cache = cache;
                opt.batch_size = batch;
                auto got = tr.decode(requests_of(inputs), opt);
                ASSERT_EQ(got.size(), expected.size());
                for (size_t i = 0; i < got.size(); ++i) {
                    EXPECT_EQ(got[i].frames, expected[i]) << "input " << i << " batch " << batch << " cache " << cache;
                    EXPECT_EQ(got[i].ended, int(expected[i].size()) < kMaxSteps) << "input " << i;
                }
            }
    }
    static std::string* dir_;
    static model::ModelBundle* bundle_;
};

std::string* DecodeTest::dir_ = nullptr;
model::ModelBundle* DecodeTest::bundle_ = nullptr;

TEST_F(DecodeTest, LmxTargetMatchesPythonReferenceBatchedAndCached) {
    const auto& v = bundle_->vocabulary();
    auto in = make_inputs(v);
    std::vector<Sequence> inputs = in.images;  // image and MIDI inputs in one batch
    inputs.insert(inputs.end(), in.midi.begin(), in.midi.end());
    auto expected = testing::python_reference(*dir_, "lmx", inputs, kMaxSteps);
    // The bundle's end bias makes rows stop at different steps, so row dropping is exercised.
    std::set<size_t> lengths;
    for (const auto& e : expected) lengths.insert(e.size());
    EXPECT_GE(lengths.size(), 2u) << "lengths: " << ::testing::PrintToString(lengths);
    for (const auto& e : expected)
        for (const auto& f : e) {
            EXPECT_GE(v.value_of(Modality::Lmx, 0, f[0]), 0);
            EXPECT_EQ(f[1], tokens::kPad);
        }
    expect_all_modes(Modality::Lmx, inputs, expected);
}

TEST_F(DecodeTest, CodeVectorEmbeddingsMatchPythonReferenceBatchedAndCached) {
    // Image codes embed through their codec's codebook vectors as well; MIDI rows in the same batch
    // (no codes) must encode as they do alone.
    std::string dir = testing::tiny_code_vectors_bundle();
    model::ModelBundle vectors(dir);
    auto in = make_inputs(vectors.vocabulary());
    std::vector<Sequence> inputs = in.images;
    inputs.insert(inputs.end(), in.midi.begin(), in.midi.end());
    auto expected = testing::python_reference(dir, "lmx", inputs, kMaxSteps);
    expect_all_modes(Modality::Lmx, inputs, expected, &vectors);
}

TEST_F(DecodeTest, PixelStemsMatchPythonReferenceBatchedAndCached) {
    // Systems of different sizes read by each CNN stem (16-pixel columns without norms; the
    // residual column CNN with BatchNorm, 8-pixel columns): each row must encode as it does alone,
    // whatever the batch pads it to, and the decoder must agree with Python's.
    for (const std::string& dir : {testing::tiny_pixels_bundle(), testing::tiny_pixels8_bundle()}) {
        SCOPED_TRACE(dir);
        model::ModelBundle pixels(dir);
        std::mt19937 rng(3);
        std::vector<model::InkImage> ims;
        for (auto [h, w] : std::vector<std::pair<int, int>>{{32, 48}, {64, 128}, {48, 80}, {64, 32}}) {
            model::InkImage im{h, w, std::vector<uint8_t>(size_t(h) * size_t(w))};
            for (auto& v : im.ink) v = uint8_t(rng() % 4 == 0 ? rng() % 256 : 0);  // sparse ink on white
            ims.push_back(im);
        }
        auto expected = testing::python_reference(dir, "lmx", {}, kMaxSteps, {}, ims);
        ASSERT_EQ(expected.size(), ims.size());
        std::set<std::vector<Frame>> distinct(expected.begin(), expected.end());
        EXPECT_GE(distinct.size(), 2u) << "the random stem should make outputs depend on the image";
        auto& tr = pixels.translator(model::Direction::TowardAudio);
        for (bool cache : {true, false})
            for (int batch : {1, 4}) {
                model::DecodeOptions opt;
                opt.target = Modality::Lmx;
                opt.max_steps = kMaxSteps;
                opt.use_cache = cache;
                opt.batch_size = batch;
                std::vector<model::DecodeRequest> requests;
                for (const auto& im : ims) {
                    model::DecodeRequest r;
                    r.pixels = im;
                    requests.push_back(r);
                }
                auto got = tr.decode(requests, opt);
                ASSERT_EQ(got.size(), expected.size());
                for (size_t i = 0; i < got.size(); ++i)
                    EXPECT_EQ(got[i].frames, expected[i]) << "image " << i << " batch " << batch << " cache " << cache;
            }
        // A pixel input of a size that is not whole cells is refused.
        model::DecodeRequest odd;
        odd.pixels = model::InkImage{20, 32, std::vector<uint8_t>(20 * 32)};
        model::DecodeOptions opt;
        opt.target = Modality::Lmx;
        opt.max_steps = 4;
        EXPECT_THROW(tr.decode({odd}, opt), Error);
    }
}

TEST_F(DecodeTest, AudioTargetMatchesPythonReferenceBatchedAndCached) {
    const auto& v = bundle_->vocabulary();
    auto in = make_inputs(v);
    auto expected = testing::python_reference(*dir_, "audio", in.midi, kMaxSteps);
    std::set<size_t> lengths;
    for (const auto& e : expected) lengths.insert(e.size());
    EXPECT_GE(lengths.size(), 2u) << "lengths: " << ::testing::PrintToString(lengths);
    for (const auto& e : expected)
        for (const auto& f : e) EXPECT_TRUE(slots_in_codebooks(v, Modality::Audio, f));
    expect_all_modes(Modality::Audio, in.midi, expected);
}

TEST_F(DecodeTest, PrefixMatchesPythonAndContinuesGreedyOutput) {
    const auto& v = bundle_->vocabulary();
    auto in = make_inputs(v);
    model::DecodeOptions opt;
    opt.target = Modality::Audio;
    opt.max_steps = 12;
    auto& tr = bundle_->translator(model::Direction::TowardAudio);
    auto full = tr.decode(requests_of({in.midi[4]}), opt);
    ASSERT_GE(full[0].frames.size(), 5u);
    std::vector<Frame> prefix(full[0].frames.begin(), full[0].frames.begin() + 4);
    opt.max_steps = 8;
    auto rest = tr.decode(requests_of({in.midi[4]}, prefix), opt);
    std::vector<Frame> tail(full[0].frames.begin() + 4, full[0].frames.end());
    EXPECT_EQ(rest[0].frames, tail);
    auto py = testing::python_reference(*dir_, "audio", {in.midi[4]}, 8, prefix);
    EXPECT_EQ(rest[0].frames, py[0]);
}

TEST_F(DecodeTest, SamplingIsSeededAndIndependentOfBatching) {
    const auto& v = bundle_->vocabulary();
    auto in = make_inputs(v);
    auto& tr = bundle_->translator(model::Direction::TowardAudio);
    model::DecodeOptions opt;
    opt.target = Modality::Audio;
    opt.max_steps = 20;
    opt.sampler = model::SamplerOptions::sample(1.0f, 0, 0.9f, 42);
    opt.batch_size = 1;
    auto a = tr.decode(requests_of(in.midi), opt);
    opt.batch_size = 8;
    auto b = tr.decode(requests_of(in.midi), opt);
    opt.sampler.seed = 43;
    auto c = tr.decode(requests_of(in.midi), opt);
    bool differs = false;
    for (size_t i = 0; i < a.size(); ++i) {
        EXPECT_EQ(a[i].frames, b[i].frames);
        differs = differs || a[i].frames != c[i].frames;
        for (const auto& f : a[i].frames) EXPECT_TRUE(slots_in_codebooks(v, Modality::Audio, f)) << "masks hold when sampling";
    }
    EXPECT_TRUE(differs) << "another seed gives another output";
    opt.sampler = model::SamplerOptions::sample(0.7f, 1, 1.0f, 5);  // top-k 1 is greedy
    auto k1 = tr.decode(requests_of(in.midi), opt);
    opt.sampler = model::SamplerOptions::greedy();
    auto g = tr.decode(requests_of(in.midi), opt);
    for (size_t i = 0; i < g.size(); ++i) EXPECT_EQ(k1[i].frames, g[i].frames);
}

TEST_F(DecodeTest, PooledRequestsOfManyThreadsDecodeAsAloneInSharedBatches) {
    // Threads of a batch run submit one or two requests each; the pool decodes them together on
    // fewer slots. Every thread must get what its requests give alone, greedy and sampled.
    const auto& v = bundle_->vocabulary();
    auto in = make_inputs(v);
    auto& tr = bundle_->translator(model::Direction::TowardAudio);
    for (bool sampled : {false, true}) {
        SCOPED_TRACE(sampled ? "sampled" : "greedy");
        model::DecodeOptions opt;
        opt.target = sampled ? Modality::Audio : Modality::Lmx;
        opt.max_steps = kMaxSteps;
        opt.batch_size = 8;
        if (sampled) opt.sampler = model::SamplerOptions::sample(1.0f, 0, 0.9f, 7);
        const size_t calls = 12;
        std::vector<std::vector<model::DecodeRequest>> requests(calls);
        std::vector<std::vector<model::DecodeResult>> alone(calls), pooled(calls);
        for (size_t c = 0; c < calls; ++c) {
            requests[c] = requests_of({in.midi[c % in.midi.size()]});
            if (c % 3 == 0) requests[c].push_back(requests_of({in.midi[(c + 1) % in.midi.size()]})[0]);
            alone[c] = tr.decode(requests[c], opt);
        }
        model::DecodePool pool(2);
        std::vector<std::thread> threads;
        for (size_t c = 0; c < calls; ++c)
            threads.emplace_back([&, c] {
                model::DecodePool::Member member(&pool);
                pooled[c] = pool.decode(tr, requests[c], opt);
            });
        for (auto& t : threads) t.join();
        for (size_t c = 0; c < calls; ++c) {
            ASSERT_EQ(pooled[c].size(), alone[c].size()) << "call " << c;
            for (size_t i = 0; i < alone[c].size(); ++i) {
                EXPECT_EQ(pooled[c][i].frames, alone[c][i].frames) << "call " << c << " request " << i;
                EXPECT_EQ(pooled[c][i].ended, alone[c][i].ended) << "call " << c << " request " << i;
            }
        }
        EXPECT_EQ(pool.rows_decoded(), 16);
        EXPECT_LT(pool.batches_decoded(), int64_t(calls)) << "requests of different threads shared batches";
    }
    // A call without members decodes at once; a bad option fails only its caller, with the message.
    model::DecodePool pool(1);
    model::DecodeOptions bad;
    bad.batch_size = 0;
    EXPECT_THROW(pool.decode(tr, requests_of({in.midi[0]}), bad), Error);
    model::DecodeOptions ok;
    ok.max_steps = 4;
    EXPECT_EQ(pool.decode(tr, requests_of({in.midi[0]}), ok).size(), 1u);
}

TEST_F(DecodeTest, ImageTargetFollowsHeightTokensAndMasks) {
    const auto& v = bundle_->vocabulary();
    auto in = make_inputs(v);
    model::DecodeOptions opt;
    opt.target = Modality::Image;
    opt.max_steps = 30;
    opt.sampler = model::SamplerOptions::sample(1.5f, 0, 1.0f, 3);
    auto out = bundle_->translator(model::Direction::TowardImage).decode(requests_of(in.images), opt);
    for (const auto& r : out)
        for (const auto& f : r.frames) {
            if (v.is_whole_frame(f[0])) {
                EXPECT_EQ(f[1], f[0]);
                EXPECT_EQ(f[3], f[0]);
            } else {
                EXPECT_TRUE(slots_in_codebooks(v, Modality::Image, f));
            }
        }
    model::DecodeOptions bad = opt;
    bad.sampler.top_p = 0.0f;
    EXPECT_THROW(bundle_->translator(model::Direction::TowardImage).decode(requests_of(in.images), bad), Error);
}

TEST_F(DecodeTest, CodecsHaveTheManifestShapes) {
    auto& ic = bundle_->image_codec();
    model::GrayImage img;
    img.height = 32;
    img.width = 80;
    img.pixels.assign(size_t(img.height) * img.width, 1.0f);
    for (int x = 0; x < img.width; ++x) img.pixels[size_t(8) * img.width + x] = 0.0f;
    auto grid = ic.encode(img);
    EXPECT_EQ(grid.rows, 2);
    EXPECT_EQ(grid.cols, 5);
    auto back = ic.decode(grid);
    EXPECT_EQ(back.height, 32);
    EXPECT_EQ(back.width, 80);
    img.width = 81;
    img.pixels.resize(size_t(img.height) * img.width);
    EXPECT_THROW(ic.encode(img), Error);

    auto& ac = bundle_->audio_codec();
    int hop = bundle_->hop_samples();
    std::vector<float> wave(size_t(hop) * 7 + 5);
    for (size_t i = 0; i < wave.size(); ++i) wave[i] = float(std::sin(0.05 * double(i)));
    auto frames = ac.encode(wave);
    EXPECT_EQ(frames.size(), 8u);
    EXPECT_EQ(ac.decode(frames).size(), size_t(hop) * 8);
    auto seq = bundle_->vocabulary().audio_frames(frames);
    EXPECT_EQ(bundle_->vocabulary().to_audio({seq.frames.begin() + 1, seq.frames.end() - 1}), frames);
}


// The frame head through C++ (Translator::transcribe_frames) against the same TorchScript module
// called from Python: the waveform, the target and the thresholds reach the module as given, and
// notes come back in seconds (windows, peak picking and the note rule run inside the module).
TEST(FrameHeadTest, TranscribeFramesMatchesPythonOnTheSameModule) {
    const std::string dir = testing::tiny_mel_bundle();
    model::ModelBundle bundle(dir);
    auto& tr = bundle.translator(model::Direction::TowardImage);
    ASSERT_TRUE(tr.has_frame_head());
    std::vector<float> wave(16000 * 9 + 123);  // several 4.096 s windows and a short last one
    std::mt19937 rng(3);
    std::normal_distribution<float> noise(0.0f, 0.02f);
    for (size_t i = 0; i < wave.size(); ++i)
        wave[i] = 0.3f * float(std::sin(2 * M_PI * 440.0 * double(i) / 16000.0)) * float(i % 8000 < 4000) + noise(rng);
    auto notes = tr.transcribe_frames(wave, tokens::Modality::Midi, 0.45, 0.55);
    ASSERT_FALSE(notes.empty()) << "a random frame head gives probabilities near 0.5: some notes";

    const fs::path base = fs::temp_directory_path() / ("umt-frames-" + std::to_string(::getpid()));
    {
        std::ofstream f(base.string() + ".f32", std::ios::binary);
        f.write(reinterpret_cast<const char*>(wave.data()), std::streamsize(wave.size() * sizeof(float)));
    }
    const std::string py =
        "import json,sys,numpy as np,torch\n"
        "m=torch.jit.load(sys.argv[1]).float().eval()\n"
        "x=torch.from_numpy(np.fromfile(sys.argv[2],dtype=np.float32))\n"
        "with torch.no_grad(): n=m.transcribe_frames(x,1,0.45,0.55)\n"
        "json.dump(n.tolist(),open(sys.argv[3],'w'))\n";
    write_file_atomic(base.string() + ".py", py);
    const std::string file = nlohmann::json::parse(read_file(dir + "/manifest.json"))["translators"]["a2i"];
    const std::string cmd = testing::python() + " " + base.string() + ".py " + dir + "/" + file + " " +
                            base.string() + ".f32 " + base.string() + ".json";
    ASSERT_EQ(testing::run(cmd), 0) << cmd;
    auto expected = nlohmann::json::parse(read_file(base.string() + ".json"));
    for (const char* ext : {".f32", ".py", ".json"}) fs::remove(base.string() + ext);
    ASSERT_EQ(notes.size(), expected.size());
    double last_onset = -1.0;
    for (size_t i = 0; i < notes.size(); ++i) {
        const auto& e = expected[i];
        EXPECT_EQ(notes[i].pitch, int(std::lround(e[0].get<double>())));
        EXPECT_NEAR(notes[i].onset_s, e[1].get<double>(), 1e-4);
        EXPECT_NEAR(notes[i].offset_s, e[2].get<double>(), 1e-4);
        EXPECT_EQ(notes[i].velocity, int(std::lround(e[3].get<double>())));
        EXPECT_GE(notes[i].pitch, 21);
        EXPECT_LE(notes[i].pitch, 108);
        EXPECT_GT(notes[i].offset_s, notes[i].onset_s);
        EXPECT_LE(notes[i].offset_s, double(wave.size()) / 16000.0 + 0.02);
        EXPECT_GE(notes[i].onset_s, last_onset - 256 / 16000.0);  // by frame; refined onsets move < half a frame
        last_onset = std::max(last_onset, notes[i].onset_s);
    }
    EXPECT_THROW(tr.transcribe_frames(wave, tokens::Modality::Midi, 0.0, 0.5), Error);
    model::ModelBundle tokens_only(testing::tiny_bundle());
    EXPECT_FALSE(tokens_only.translator(model::Direction::TowardImage).has_frame_head());
    EXPECT_THROW(tokens_only.translator(model::Direction::TowardImage).transcribe_frames(wave, tokens::Modality::Midi, 0.5, 0.5), Error)
        << "a translator without a frame head says so";
}

// Waveform inputs through the one decoding loop: a request decodes the same alone or in a batch
// with others of other lengths (the encoder masks each input's own frames).
TEST(FrameHeadTest, WaveformRequestsDecodeTheSameAloneAndBatched) {
    model::ModelBundle bundle(testing::tiny_mel_bundle());
    auto& tr = bundle.translator(model::Direction::TowardImage);
    std::vector<model::DecodeRequest> reqs(3);
    for (size_t r = 0; r < reqs.size(); ++r) {
        reqs[r].wave.samples.resize(8000 * (r + 2));
        for (size_t i = 0; i < reqs[r].wave.samples.size(); ++i)
            reqs[r].wave.samples[i] = 0.2f * float(std::sin(0.01 * double(i) * double(r + 1)));
    }
    model::DecodeOptions opt;
    opt.target = tokens::Modality::Midi;
    opt.max_steps = 12;
    auto batched = tr.decode(reqs, opt);
    for (size_t r = 0; r < reqs.size(); ++r) {
        auto alone = tr.decode({reqs[r]}, opt);
        EXPECT_EQ(alone[0].frames, batched[r].frames) << "request " << r;
        EXPECT_FALSE(alone[0].frames.empty());
    }
    model::DecodeRequest mixed;
    mixed.input = bundle.vocabulary().midi_frames(std::vector<int>{5, 6});
    EXPECT_THROW(tr.decode({reqs[0], mixed}, opt), Error) << "a batch does not mix audio and frame inputs";
}

// The manifest's features block and tasks.amt are read and checked once, into BundleConfig.
TEST(FrameHeadTest, BundleConfigReadsAndChecksTheAudioFeatures) {
    const std::string dir = testing::tiny_mel_bundle();
    const std::string mpath = dir + "/manifest.json";
    const auto manifest = nlohmann::json::parse(read_file(mpath));
    auto c = model::BundleConfig::from_manifest(manifest, mpath);
    EXPECT_EQ(c.audio_input, "features");
    ASSERT_TRUE(c.audio_features.has_value());
    EXPECT_EQ(c.audio_features->sample_rate, 16000);
    EXPECT_EQ(c.audio_features->hop_samples, 256);
    EXPECT_EQ(c.audio_features->mel_bins, 229);
    EXPECT_NEAR(c.audio_features->window_s, 4.096, 1e-9);
    EXPECT_FALSE(c.amt.decoder || c.amt.onset_threshold || c.amt.frame_threshold);
    EXPECT_FALSE(model::BundleConfig::from_manifest(nlohmann::json::parse(read_file(testing::tiny_bundle() + "/manifest.json")),
                                                    mpath)
                     .audio_features)
        << "a bundle hearing codec tokens has no features";

    auto edited = [&](const std::function<void(nlohmann::json&)>& edit) {
        auto m = manifest;
        edit(m);
        return model::BundleConfig::from_manifest(m, mpath);
    };
    c = edited([](nlohmann::json& m) {
        m["tasks"] = {{"amt", {{"decoder", "tokens"}, {"onset_threshold", 0.3}, {"frame_threshold", 0.4}}}};
    });
    EXPECT_EQ(c.amt.decoder.value_or(""), "tokens");
    EXPECT_DOUBLE_EQ(c.amt.onset_threshold.value_or(0), 0.3);
    EXPECT_DOUBLE_EQ(c.amt.frame_threshold.value_or(0), 0.4);
    EXPECT_THROW(edited([](nlohmann::json& m) { m["tasks"] = {{"amt", {{"decoder", "beams"}}}}; }), Error);
    EXPECT_THROW(edited([](nlohmann::json& m) { m["tasks"] = {{"amt", {{"onset_threshold", 1.0}}}}; }), Error);
    EXPECT_THROW(edited([](nlohmann::json& m) { m["modalities"]["audio"].erase("features"); }), Error);
    EXPECT_THROW(edited([](nlohmann::json& m) { m["modalities"]["audio"]["features"]["mel_bins"] = 0; }), Error);
    EXPECT_THROW(edited([](nlohmann::json& m) { m["modalities"]["audio"]["features"]["sample_rate"] = 16000.5; }), Error);
    EXPECT_THROW(edited([](nlohmann::json& m) { m["modalities"]["audio"]["features"]["window_s"] = "4.096"; }), Error);
    EXPECT_THROW(edited([](nlohmann::json& m) { m["modalities"]["audio"]["features"].erase("hop_samples"); }), Error);
    // How pages are cut for the I2A: the band layout's staff spaces, none when absent.
    EXPECT_EQ(c.staff_bands, 0);
    EXPECT_EQ(edited([](nlohmann::json& m) { m["modalities"]["image"]["staff_bands"] = 5; }).staff_bands, 5);
    EXPECT_THROW(edited([](nlohmann::json& m) { m["modalities"]["image"]["staff_bands"] = "5"; }), Error);
    EXPECT_THROW(edited([](nlohmann::json& m) { m["modalities"]["image"]["staff_bands"] = -1; }), Error);
}

// Transcription of a bundle that hears features: the frame head by default (the notes
// transcribe_frames reads in the audio at the features' rate, sorted), or the decoding loop over
// waveform windows of the features' window length.
TEST(FrameHeadTest, TranscribeReadsTheFrameHeadOrWaveformWindows) {
    model::ModelBundle bundle(testing::tiny_mel_bundle());
    auto& tr = bundle.translator(model::Direction::TowardImage);
    EXPECT_TRUE(tasks::hears_features(bundle));
    EXPECT_NEAR(tasks::audio_window_s(bundle), 4.096, 1e-9);
    Audio audio;
    audio.sample_rate_hz = 22050;  // not the features' rate: transcription resamples
    audio.samples.resize(size_t(22050 * 5.5));
    for (size_t i = 0; i < audio.samples.size(); ++i)
        audio.samples[i] = 0.3f * float(std::sin(2 * M_PI * 330.0 * double(i) / 22050.0)) * float(i % 11025 < 6000);

    const auto how = tasks::transcribe_defaults(bundle);
    EXPECT_EQ(how.decoder, "frames");
    EXPECT_DOUBLE_EQ(how.onset_threshold, 0.5);
    tasks::TranscribeOptions loose = how;
    loose.onset_threshold = 0.45;
    loose.frame_threshold = 0.55;
    tasks::DecodeSettings s;
    Performance perf = tasks::transcribe(bundle, audio, s, nullptr, &loose);
    const auto heard = tr.transcribe_frames(resample(audio, 16000).samples, tokens::Modality::Midi, 0.45, 0.55);
    ASSERT_FALSE(heard.empty()) << "a random frame head gives probabilities near 0.5: some notes";
    ASSERT_EQ(perf.notes.size(), heard.size());
    std::multiset<std::pair<int, long>> want, got;
    for (const auto& n : heard) want.insert({n.pitch, std::lround(n.onset_s * 1e4)});
    for (size_t i = 0; i < perf.notes.size(); ++i) {
        const auto& n = perf.notes[i];
        got.insert({n.pitch, std::lround(n.onset_s * 1e4)});
        EXPECT_LT(n.onset_s, n.offset_s);
        EXPECT_GE(n.velocity, 1);
        EXPECT_LE(n.velocity, 127);
        if (i) EXPECT_LE(perf.notes[i - 1].onset_s, n.onset_s) << "sorted by onset";
    }
    EXPECT_EQ(got, want) << "the frame head's notes, as they are";

    // The token path and audio -> image hear the same windows: waveforms at the features' rate.
    auto requests = tasks::audio_window_requests(bundle, audio, tasks::audio_window_s(bundle), nullptr,
                                                 [](double dur) { return int(std::ceil(dur)); });
    const size_t n16 = resample(audio, 16000).samples.size();
    ASSERT_EQ(requests.size(), 2u);
    EXPECT_EQ(requests[0].wave.samples.size(), 65536u);
    EXPECT_EQ(requests[1].wave.samples.size(), n16 - 65536u);
    EXPECT_EQ(requests[1].max_steps, 2);
    for (const auto& r : requests) EXPECT_TRUE(r.input.frames.empty());
    tasks::TranscribeOptions tokens_way = how;
    tokens_way.decoder = "tokens";
    s.max_len = 24;
    Performance by_tokens = tasks::transcribe(bundle, audio, s, nullptr, &tokens_way);
    // Stitched at the features' window starts; a random model's time shifts reach the MIDI
    // vocabulary's whole segment (10 s) past the last window's start.
    for (const auto& n : by_tokens.notes) {
        EXPECT_LT(n.onset_s, n.offset_s);
        EXPECT_LE(n.offset_s, 4.096 + midi_tokens::kDefaultSegmentSeconds + 1e-6);
    }
    tasks::TranscribeOptions unknown = how;
    unknown.decoder = "beams";
    EXPECT_THROW(tasks::transcribe(bundle, audio, s, nullptr, &unknown), Error);

    model::ModelBundle tokens_only(testing::tiny_bundle());
    EXPECT_FALSE(tasks::hears_features(tokens_only));
    EXPECT_EQ(tasks::transcribe_defaults(tokens_only).decoder, "tokens");
    EXPECT_THROW(tasks::transcribe(tokens_only, audio, s, nullptr, &how), Error) << "no frame head: use tokens";
}

}  // namespace
}  // namespace umt
