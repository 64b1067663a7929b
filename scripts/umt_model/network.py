"""The translator network of DESIGN.md section 4, written to be exported with TorchScript.

encode / init_cross / decode_step / sub_step are what C++ calls (src/model/translator.cpp);
forward() is the teacher-forced training loss. Written for torch 1.13 TorchScript: no
scaled_dot_product_attention, caches as List[Tuple[Tensor, Tensor]], ModuleLists only iterated.
"""
import math
from typing import List, Optional, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch import Tensor

from .seeing import CHANNELS, COLUMN_PX, ColumnCNN, NoRhythm, RhythmBranch
from .hearing import HOP, KEYS, MARGIN_FRAMES, SAMPLE_RATE, WINDOW_FRAMES, FrameHead, HarmonicBranch, MelStem, frame_loss, notes_of
from .vocab import Layout, N_SLOTS  # PAD is id 0: written as a literal for TorchScript

Cache = List[Tuple[Tensor, Tensor]]
PIXEL_CHANNELS = 128  # the pixel stem's channels per 16-pixel cell
CTC_UP = 8  # the aux_ctc head: classes at this many sub-positions per encoder position (image column)


def dense_loss(logits: Tensor, mask: Tensor, targets: Tensor) -> Tensor:
    """Binary cross-entropy of a dense head's logits [B,S,K] against targets [B,S',K] (1 / 0, -1
    unknown), summed over the classes, averaged over the columns that count (mask [B,S])."""
    s = min(logits.size(1), targets.size(1))
    logits = logits[:, :s]
    t = targets[:, :s].to(logits.dtype)
    keep = (t >= 0) & mask[:, :s, None]
    loss = F.binary_cross_entropy_with_logits(logits, t.clamp(min=0), reduction="none")
    return (loss * keep).sum() / keep.any(-1).sum().clamp(min=1)


class NoFrameHead(nn.Module):
    """The frame head of a network without one (codec-token audio): never called, but TorchScript
    compiles frame_logits for every network."""

    def forward(self, h: Tensor, add: Tensor) -> Tensor:
        return h


def default_network(width=256, heads=4, encoder_layers=4, decoder_layers=4, ffn=None, sub_layers=1,
                    image_stem="frames", code_vectors=False, aux_ctc=0, audio_stem="tokens", mel_fine=0,
                    pixel_channels=None, harmonic=0, aux_heads=0, cross_positions=False,
                    column_sinusoids=False, locate=0, ctc_values=False, self_window=0,
                    self_sink=0, copy_ctc=0, aux_durations=0, copy_heads=False, rhythm=0):
    """image_stem: "frames" = every image code frame is one encoder position (the paper's);
    "pixels" = DESIGN.md's `features` input: a small CNN over the normalized system's pixels (what the
    image codec would encode), one position per 16-pixel column (encode_pixels; OMR systems as Zeus);
    "pixels8" = the same input through a residual CNN with BatchNorm, one position per 8-pixel
    column (umt_model/seeing.py).
    code_vectors: image and audio codes also embed through their codec's codebook vector (a fixed
    buffer, set with set_code_vectors) and one learned projection, so the sum over a frame's four
    slots starts as a linear map of the codec's quantized latent instead of four unrelated ids.
    aux_ctc: number of classes (0 = none) of a training-only CTC head over image inputs: CTC_UP
    sub-positions per column predict the score's note heads left to right (pitch classes, rests,
    barlines; umt_model/targets.py LmxEvents): an alignment the encoder finds for itself,
    teaching it where each note head sits and at what pitch, as CTC line recognizers learn.
    audio_stem: "tokens" = audio inputs are codec tokens (the paper's); "mel" = DESIGN.md's
    `features` input: the waveform itself, a log-mel CNN one position per 16 ms frame, and an
    onsets-and-frames head on the encoder (umt_model/hearing.py; encode_audio, transcribe_frames).
    mel_fine: channels of the mel stem's fine-frequency branch (0 = none; hearing.py MelStem).
    harmonic: channels of the frame head's harmonic-stack branch over the waveform (0 = none; only
    with audio_stem "mel"; hearing.py HarmonicBranch).
    pixel_channels: the "pixels8" CNN's four stage widths (None = seeing.py's CHANNELS).
    aux_heads: number of classes (0 = none) of a training-only dense head over image inputs: for
    every column, which staff positions hold a note head that is centred in it and which staves a
    rest (umt_model/targets.py HeadMap; the engraver's own positions): where CTC leaves the encoder
    to find each head, this says it column by column.
    cross_positions: the decoder's cross-attention keys and values also carry each source position's
    sinusoid (the Transformer's table, unit scale), times a learned gate per layer (keys, values):
    the decoder can then look at a column by where it is, not only by what it shows. An I2A whose
    learned column embeddings faded had keys of content alone, and could not step from one note
    head to the next of the same look (docs/results/omr.md, session 27).
    column_sinusoids: the image columns' encoder input also gets their sinusoid, times a learned
    gate: positions the encoder's self-attention can tell apart whatever the learned rows became.
    locate: the decoder is told where it looked for the token before (location-aware attention): the
    column its last layer's first `locate` cross-attention heads (the guided ones) peaked at on the
    previous step enters each step's input as that column's sinusoid through a learned projection
    (zero at the start), so that stepping to the next note head is a move relative to a known place
    and not a search by content. Greedy decoding carries the column in the cache (its last entry);
    training gives it from the reference (the CTC head's forced alignment, umt_model/guide.py).
    ctc_values: the decoder's cross-attention keys and values also carry what the CTC head reads in
    each column (its class probabilities summed over the column's sub-positions: which pitches, rests
    and barlines are there) through a learned projection (zero at the start): where the decoder looks
    it is given the pitch the encoder's reading found, as a code and not only as features it must
    learn to decode again (aux_ctc networks).
    self_window: the decoder's self-attention sees only its last self_window tokens (0 = all) and its
    first self_sink (the system's opening: clefs, key, time): its language model keeps the local
    grammar but cannot copy a measure it wrote before, so what comes next must be read from the
    image (docs/results/omr.md, session 30).
    copy_ctc: a copy path from the encoder's reading to the decoder's output (aux_ctc networks): the
    CTC head's class probabilities of each column (summed over its sub-positions), averaged under the
    last decoder layer's first copy_ctc cross-attention heads (the guided ones), enter the decoder's
    final state through a learned projection (zero at the start): a pitch the CTC head reads where the
    decoder looks reaches the output in one linear step, not through the attention values and the
    layers after them (a pointer-generator's copy, as a feature).
    aux_durations: number of classes (0 = none) of a second training-only CTC head beside aux_ctc's,
    over the same events in the same order, reading each one's written duration (targets.py
    LmxEvents.timing); its column reading joins the CTC head's wherever that is read (ctc_values,
    copy_ctc), so the copy path carries the rhythm too.
    copy_heads: the dense head's (aux_heads) per-column probabilities join the column reading after
    them (train_omr --duration-columns: which written durations begin in each column).
    rhythm: channels (0 = none) of a branch from the "pixels8" CNN's second stage to each column
    (umt_model/seeing.py RhythmBranch), added to the encoder's output through a learned projection
    (zero at the start): the beams, flags and heads that tell a note's written duration, which the
    CNN's last stage and the encoder do not carry (docs/results/omr.md, session 33)."""
    net = {"width": width, "heads": heads, "encoder_layers": encoder_layers,
           "decoder_layers": decoder_layers, "ffn": ffn or 4 * width, "sub_layers": sub_layers}
    if image_stem != "frames":  # absent = frames: manifests of earlier bundles stay valid
        net["image_stem"] = image_stem
    # Options left out when off, so that manifests of earlier bundles stay valid.
    optional = {"code_vectors": bool(code_vectors), "aux_ctc": int(aux_ctc), "aux_heads": int(aux_heads),
                "cross_positions": bool(cross_positions), "column_sinusoids": bool(column_sinusoids),
                "locate": int(locate), "ctc_values": bool(ctc_values), "copy_ctc": int(copy_ctc),
                "self_window": int(self_window), "aux_durations": int(aux_durations) if aux_ctc else 0,
                "copy_heads": bool(copy_heads) and bool(aux_heads) and bool(aux_ctc),
                "rhythm": int(rhythm) if image_stem == "pixels8" else 0}
    net.update((k, v) for k, v in optional.items() if v)
    if self_window:
        net["self_sink"] = int(self_sink)
    if audio_stem != "tokens":
        net["audio_stem"] = audio_stem
    if mel_fine:
        net["mel_fine"] = int(mel_fine)
    if harmonic and audio_stem == "mel":  # the branch joins the mel stem's frame head
        net["harmonic"] = int(harmonic)
    if pixel_channels and tuple(pixel_channels) != CHANNELS:  # absent = seeing.py's CHANNELS
        net["pixel_channels"] = [int(c) for c in pixel_channels]
    return net


class PlainStem(nn.Sequential):
    """Layers applied in turn to the pixels; the image sizes are not needed (no biases, no norms:
    blank paper stays exactly 0)."""

    def forward(self, x: Tensor, size: Tensor) -> Tensor:
        for layer in self:
            x = layer(x)
        return x

    def both(self, x: Tensor, size: Tensor) -> Tuple[Tensor, Tensor]:
        y = self.forward(x, size)
        return y, y


class Stem(nn.Sequential):
    """One stem that takes the image sizes (umt_model/seeing.py ColumnCNN); a Sequential, so that its
    parameters are named as the earlier stems' are (pixel_cnn.0....)."""

    def forward(self, x: Tensor, size: Tensor) -> Tensor:
        for layer in self:
            x = layer(x, size)
        return x

    def both(self, x: Tensor, size: Tensor) -> Tuple[Tensor, Tensor]:
        """forward's features and the features its CNN feeds the rhythm branch."""
        mid = x
        for layer in self:
            x, mid = layer.both(x, size)
        return x, mid


def sinusoids(n: int, d: int, device: torch.device) -> Tensor:
    """The Transformer's position table [n, d] (unit scale): sin at even dims, cos at odd."""
    return sinusoids_at(torch.arange(n, device=device, dtype=torch.float32), d)


def sinusoids_at(pos: Tensor, d: int) -> Tensor:
    """The rows of the position table for positions of any shape [...] -> [..., d]."""
    angle = pos.to(torch.float32)[..., None] / torch.pow(
        10000.0, torch.arange(0, d, 2, device=pos.device, dtype=torch.float32) / d)
    return torch.stack([torch.sin(angle), torch.cos(angle)], -1).flatten(-2)


class Attention(nn.Module):
    def __init__(self, d: int, heads: int):
        super().__init__()
        self.heads = heads
        self.dh = d // heads
        self.scale = 1.0 / math.sqrt(self.dh)
        self.q = nn.Linear(d, d)
        self.kv = nn.Linear(d, 2 * d)
        self.o = nn.Linear(d, d)

    def project_kv(self, x: Tensor) -> Tuple[Tensor, Tensor]:
        b, s, _ = x.shape
        kv = self.kv(x).view(b, s, 2, self.heads, self.dh).permute(2, 0, 3, 1, 4)
        # contiguous: torch 1.13's CPU bmm on these permuted strides runs ~5x slower than BLAS
        return kv[0].contiguous(), kv[1].contiguous()

    def project_kv_placed(self, x: Tensor, pe: Tensor, key_gate: Tensor, value_gate: Tensor) -> Tuple[Tensor, Tensor]:
        """project_kv(x + key_gate * pe)'s keys and project_kv(x + value_gate * pe)'s values in one
        projection of x: the projection is linear, so the positions' share is added after it."""
        b, s, _ = x.shape
        d = self.heads * self.dh
        placed = F.linear(pe, self.kv.weight)  # [1, S, 2D], no bias: it is in self.kv(x) once
        gates = torch.cat([key_gate.expand(d), value_gate.expand(d)]).to(x.dtype)
        kv = (self.kv(x) + placed * gates).view(b, s, 2, self.heads, self.dh).permute(2, 0, 3, 1, 4)
        return kv[0].contiguous(), kv[1].contiguous()

    def weights(self, x: Tensor, k: Tensor, allowed: Optional[Tensor]) -> Tensor:
        """Attention probabilities [B, H, T, S]; allowed: bool, broadcastable to them, True where a
        query may look at a key."""
        b, t, _ = x.shape
        q = self.q(x).view(b, t, self.heads, self.dh).transpose(1, 2).contiguous()
        att = torch.matmul(q, k.transpose(-1, -2)) * self.scale
        if allowed is not None:
            att = att.masked_fill(torch.logical_not(allowed), float("-inf"))
        return att.softmax(-1)

    def attend(self, x: Tensor, k: Tensor, v: Tensor, allowed: Optional[Tensor]) -> Tensor:
        return self.attend_weights(x, k, v, allowed)[0]

    def attend_weights(self, x: Tensor, k: Tensor, v: Tensor, allowed: Optional[Tensor]) -> Tuple[Tensor, Tensor]:
        """attend's output and the attention probabilities [B, H, T, S] it used."""
        b, t, _ = x.shape
        att = self.weights(x, k, allowed)
        y = torch.matmul(att, v).transpose(1, 2).reshape(b, t, self.heads * self.dh)
        return self.o(y), att


class FeedForward(nn.Module):
    def __init__(self, d: int, ffn: int):
        super().__init__()
        self.up = nn.Linear(d, ffn)
        self.down = nn.Linear(ffn, d)

    def forward(self, x: Tensor) -> Tensor:
        return self.down(F.gelu(self.up(x)))


class EncoderLayer(nn.Module):
    def __init__(self, d: int, heads: int, ffn: int):
        super().__init__()
        self.ln1 = nn.LayerNorm(d)
        self.att = Attention(d, heads)
        self.ln2 = nn.LayerNorm(d)
        self.ff = FeedForward(d, ffn)

    def forward(self, x: Tensor, allowed: Optional[Tensor]) -> Tensor:
        h = self.ln1(x)
        k, v = self.att.project_kv(h)
        x = x + self.att.attend(h, k, v, allowed)
        return x + self.ff(self.ln2(x))


class DecoderLayer(nn.Module):
    def __init__(self, d: int, heads: int, ffn: int):
        super().__init__()
        self.ln1 = nn.LayerNorm(d)
        self.self_att = Attention(d, heads)
        self.ln2 = nn.LayerNorm(d)
        self.cross_att = Attention(d, heads)
        self.ln3 = nn.LayerNorm(d)
        self.ff = FeedForward(d, ffn)

    def forward(self, x: Tensor, past: Optional[Tuple[Tensor, Tensor]], causal: Tensor,
                cross: Tuple[Tensor, Tensor], memory_allowed: Tensor) -> Tuple[Tensor, Tuple[Tensor, Tensor], Tensor]:
        h = self.ln1(x)
        k, v = self.self_att.project_kv(h)
        if past is not None:
            k = torch.cat([past[0], k], 2)
            v = torch.cat([past[1], v], 2)
        x = x + self.self_att.attend(h, k, v, causal)
        y, att = self.cross_att.attend_weights(self.ln2(x), cross[0], cross[1], memory_allowed)
        x = x + y
        x = x + self.ff(self.ln3(x))
        return x, (k, v), att


class Translator(nn.Module):
    def __init__(self, vocab_params: dict, net: dict):
        super().__init__()
        layout = Layout(vocab_params)
        d, heads, ffn = net["width"], net["heads"], net["ffn"]
        self.width = d
        self.vocab_size = layout.size
        self.tok_emb = nn.Embedding(layout.size, d, padding_idx=0)  # PAD slots add nothing
        self.pos_a = nn.Embedding(layout.n_pos_a, d)
        self.pos_b = nn.Embedding(layout.n_pos_b, d)
        self.target_emb = nn.Embedding(4, d)
        stem = net.get("image_stem", "frames")
        if stem not in ("frames", "pixels", "pixels8"):
            raise ValueError(f"image_stem {stem}: frames, pixels or pixels8")
        self.image_pos_start = layout.pos_start[2]  # IMAGE
        self.image_pos_last = layout.pos_range[2] - 1
        self.pixel_rows = layout.max_height
        if stem == "pixels":  # 4 stride-2 convolutions: one 16x16-pixel cell per output, as the codec's grid
            # No biases: blank paper (0) gives exactly 0 features, so what varies from column to column
            # (the music) is all the encoder sees, not a large constant shared by every column (with
            # biases the constant was 10x the variation and the encoder never read the image); the
            # LayerNorm brings columns to the scale of the encoder's inputs.
            self.pixel_cnn = PlainStem(
                nn.Conv2d(1, 32, 3, 2, 1, bias=False), nn.GELU(), nn.Conv2d(32, 64, 3, 2, 1, bias=False), nn.GELU(),
                nn.Conv2d(64, 96, 3, 2, 1, bias=False), nn.GELU(),
                nn.Conv2d(96, PIXEL_CHANNELS, 3, 2, 1, bias=False), nn.GELU())
            self.pixel_proj = nn.Linear(self.pixel_rows * PIXEL_CHANNELS, d, bias=False)
            self.pixel_ln = nn.LayerNorm(d)
        elif stem == "pixels8":  # umt_model/seeing.py: residual CNN, one position per 8-pixel column
            channels = tuple(int(c) for c in net.get("pixel_channels", CHANNELS))
            self.pixel_cnn = Stem(ColumnCNN(channels))
            self.pixel_proj = nn.Linear(self.pixel_rows * channels[-1], d, bias=False)
            self.pixel_ln = nn.LayerNorm(d)
        else:
            self.pixel_cnn = PlainStem(nn.Identity())
            self.pixel_proj = nn.Identity()
            self.pixel_ln = nn.Identity()
        self.rhythm_channels = int(net.get("rhythm", 0)) if stem == "pixels8" else 0
        if self.rhythm_channels > 0:  # the second stage's durations -> the encoder's output; zero: as it was
            self.rhythm = RhythmBranch(tuple(int(c) for c in net.get("pixel_channels", CHANNELS))[1], self.rhythm_channels)
            self.rhythm_proj = nn.Linear(self.rhythm_channels, d, bias=False)
            nn.init.zeros_(self.rhythm_proj.weight)
        else:
            self.rhythm = NoRhythm()
            self.rhythm_proj = nn.Identity()
        self.columns_per_cell = 16 // COLUMN_PX if stem == "pixels8" else 1
        audio_stem = net.get("audio_stem", "tokens")
        if audio_stem not in ("tokens", "mel"):
            raise ValueError(f"audio_stem {audio_stem}: tokens or mel")
        self.hop, self.window_frames, self.margin_frames, self.keys = HOP, WINDOW_FRAMES, MARGIN_FRAMES, KEYS
        self.seconds_per_frame = HOP / SAMPLE_RATE
        self.audio_pos_start = layout.pos_start[3]  # AUDIO
        self.audio_pos_last = layout.pos_range[3] - 1
        if audio_stem == "mel":
            self.mel_stem = MelStem(d, fine=int(net.get("mel_fine", 0)))
            self.frame_head = FrameHead(d)
        else:
            self.mel_stem = nn.Identity()
            self.frame_head = NoFrameHead()
        self.use_harmonic = audio_stem == "mel" and int(net.get("harmonic", 0)) > 0
        self.harmonic = HarmonicBranch(int(net["harmonic"])) if self.use_harmonic else nn.Identity()
        self.ctc_classes = int(net.get("aux_ctc", 0))
        self.ctc = nn.Linear(d, CTC_UP * self.ctc_classes) if self.ctc_classes > 0 else nn.Identity()
        self.dur_classes = int(net.get("aux_durations", 0)) if self.ctc_classes > 0 else 0
        self.dur_ctc = nn.Linear(d, CTC_UP * self.dur_classes) if self.dur_classes > 0 else nn.Identity()
        self.head_classes = int(net.get("aux_heads", 0))
        self.head_map = nn.Linear(d, self.head_classes) if self.head_classes > 0 else nn.Identity()
        # training-only: the dense head's classes read from the rhythm branch alone (it is told the target itself)
        self.rhythm_head = nn.Linear(self.rhythm_channels, self.head_classes) \
            if self.rhythm_channels > 0 and self.head_classes > 0 else nn.Identity()
        self.copy_heads = bool(net.get("copy_heads", False)) and self.head_classes > 0 and self.ctc_classes > 0
        reading = self.ctc_classes + self.dur_classes + (self.head_classes if self.copy_heads else 0)  # column_reading's width
        self.column_sinusoids = bool(net.get("column_sinusoids", False))
        if self.column_sinusoids:  # gate of the columns' sinusoid added to the encoder's input
            self.column_gate = nn.Parameter(torch.tensor(0.5))
        else:  # earlier networks' weights load as they are
            self.register_buffer("column_gate", torch.zeros(()), persistent=False)
        self.cross_positions = bool(net.get("cross_positions", False))
        if self.cross_positions:  # gates of the positions' sinusoid in each decoder layer's (keys, values)
            self.cross_pos_gate = nn.Parameter(torch.tensor([[0.5, 0.1]] * net["decoder_layers"]))
        else:  # earlier networks' weights load as they are
            self.register_buffer("cross_pos_gate", torch.zeros(net["decoder_layers"], 2), persistent=False)
        self.use_code_vectors = bool(net.get("code_vectors", False))
        cdim = 64 if self.use_code_vectors else 1
        self.register_buffer("code_vectors", torch.zeros(layout.size if self.use_code_vectors else 1, cdim),
                             persistent=self.use_code_vectors)  # earlier networks' weights load as they are
        self.code_proj = nn.Linear(cdim, d, bias=False) if self.use_code_vectors else nn.Identity()
        self.enc_layers = nn.ModuleList([EncoderLayer(d, heads, ffn) for _ in range(net["encoder_layers"])])
        self.enc_ln = nn.LayerNorm(d)
        self.dec_layers = nn.ModuleList([DecoderLayer(d, heads, ffn) for _ in range(net["decoder_layers"])])
        self.dec_ln = nn.LayerNorm(d)
        self.n_dec = int(net["decoder_layers"])
        self.ctc_values = bool(net.get("ctc_values", False)) and self.ctc_classes > 0
        self.ctc_up = CTC_UP
        if self.ctc_values:  # the CTC head's column reading -> the decoder's keys and values; zero: as it was
            self.ctc_val = nn.Linear(reading, d, bias=False)
            nn.init.zeros_(self.ctc_val.weight)
        else:
            self.ctc_val = nn.Identity()
        self.locate = int(net.get("locate", 0))
        self.copy_ctc = int(net.get("copy_ctc", 0)) if self.ctc_classes > 0 else 0
        if self.copy_ctc > 0:  # the attended CTC reading -> the decoder's final state; zero: as it was
            self.copy_proj = nn.Linear(reading, d, bias=False)
            nn.init.zeros_(self.copy_proj.weight)
        else:
            self.copy_proj = nn.Identity()
        self.self_window = int(net.get("self_window", 0))
        self.self_sink = int(net.get("self_sink", 0))
        if self.locate > 0:  # the previous step's column -> the decoder's input; zero: a network that starts as it was
            self.loc_proj = nn.Linear(d, d, bias=False)
            nn.init.zeros_(self.loc_proj.weight)
        else:
            self.loc_proj = nn.Identity()
        # The sub-decoder (RVQ head): causal over the <= 4 slots of one step only.
        self.slot_pos = nn.Embedding(N_SLOTS, d)
        self.sub_layers = nn.ModuleList([EncoderLayer(d, heads, ffn) for _ in range(net["sub_layers"])])
        self.sub_ln = nn.LayerNorm(d)
        self.out = nn.Linear(d, layout.size)
        masks = torch.tensor([[layout.slot_mask(m, j) for j in range(N_SLOTS)] for m in range(4)], dtype=torch.bool)
        self.register_buffer("slot_masks", masks)  # [target, slot, V]
        for emb in (self.tok_emb, self.pos_a, self.pos_b, self.target_emb, self.slot_pos):
            nn.init.normal_(emb.weight, std=0.02)
        with torch.no_grad():
            self.tok_emb.weight[0].zero_()

    def embed(self, frames: Tensor, pos: Tensor) -> Tensor:
        x = self.tok_emb(frames).sum(2) + self.pos_a(pos[:, :, 0]) + self.pos_b(pos[:, :, 1])
        if self.use_code_vectors:
            x = x + self.code_proj(F.embedding(frames, self.code_vectors).sum(2))
        return x

    @torch.jit.unused
    def set_code_vectors(self, layout: Layout, codebooks: dict):
        """codebooks: modality -> [4, codebook_size, dim] tensor (the codec's vq.codebooks)."""
        with torch.no_grad():
            self.code_vectors.zero_()
            for m, cb in codebooks.items():
                if cb.size(2) != self.code_vectors.size(1):
                    raise ValueError(f"codebook vectors of {cb.size(2)} dims; the network takes {self.code_vectors.size(1)}")
                for j in range(N_SLOTS):
                    start = layout.code(m, j, 0)
                    self.code_vectors[start:start + cb.size(1)] = cb[j].float()

    @torch.jit.export
    def encode(self, frames: Tensor, pos: Tensor, target: Tensor) -> Tuple[Tensor, Tensor]:
        """frames [B,S,4], pos [B,S,2], target [B] -> memory [B,S,D], key mask [B,S] (True = real)."""
        mask = frames[:, :, 0] != 0  # PAD
        x = self.embed(frames, pos)
        x = x + self.target_emb(target).unsqueeze(1)
        allowed = mask[:, None, None, :]
        for layer in self.enc_layers:
            x = layer(x, allowed)
        return self.enc_ln(x), mask

    @torch.jit.export
    def encode_pixels(self, pixels: Tensor, size: Tensor, target: Tensor) -> Tuple[Tensor, Tensor]:
        """pixels [B,1,H,W] (ink 1, paper 0: 1 - gray/255; H, W multiples of 16, zero beyond each
        image), size [B,2] each image's (rows, columns) of 16-pixel cells -> memory [B,W/16,D], mask
        ([B,W/8,D] for the pixels8 stem). Cells outside an image are zeroed after the CNN, so a result
        does not depend on its batch."""
        memory, mask, _ = self.encode_pixels_parts(pixels, size, target)
        return memory, mask

    def encode_pixels_parts(self, pixels: Tensor, size: Tensor, target: Tensor) -> Tuple[Tensor, Tensor, Tensor]:
        """encode_pixels' memory and mask, and the rhythm branch's columns [B,W/8,C] (a rhythm
        network; else an empty tensor), which training tells the durations through rhythm_head."""
        b = pixels.size(0)
        if self.rhythm_channels > 0:
            f, mid = self.pixel_cnn.both(pixels, size)  # [B,C,H/16,W/8], the second stage's [B,C2,H/4,W/4]
        else:
            f = self.pixel_cnn(pixels, size)  # [B,C,H/16,W/16] (W/8 for pixels8)
            mid = f
        rows, cols = f.size(2), f.size(3)
        row_ok = torch.arange(rows, device=f.device)[None, :] < size[:, 0:1]
        col_ok = torch.arange(cols, device=f.device)[None, :] < size[:, 1:2] * self.columns_per_cell
        f = f * (row_ok[:, None, :, None] & col_ok[:, None, None, :]).to(f.dtype)
        if rows < self.pixel_rows:
            f = F.pad(f, [0, 0, 0, self.pixel_rows - rows])
        else:
            f = f[:, :, : self.pixel_rows]
        x = self.pixel_ln(self.pixel_proj(f.permute(0, 3, 1, 2).reshape(b, cols, -1)))
        pos = self.image_pos_start + torch.clamp(torch.arange(cols, device=f.device), max=self.image_pos_last)
        x = x + self.pos_a(pos)[None] + self.target_emb(target).unsqueeze(1)
        if self.column_sinusoids:
            x = x + self.column_gate * sinusoids(cols, x.size(2), x.device).to(x.dtype)[None]
        allowed = col_ok[:, None, None, :]
        for layer in self.enc_layers:
            x = layer(x, allowed)
        memory = self.enc_ln(x)
        told = memory.new_zeros(0)
        if self.rhythm_channels > 0:
            told = self.rhythm(mid, size)
            memory = memory + self.rhythm_proj(told)
        return memory, col_ok, told

    @torch.jit.export
    def encode_audio(self, wave: Tensor, length: Tensor, target: Tensor) -> Tuple[Tensor, Tensor]:
        """wave [B,N] at 16 kHz (zero beyond each input), length [B] samples -> memory [B,N/256,D],
        mask [B,N/256] (True = a frame of the input): one position per 16 ms log-mel frame."""
        x = self.mel_stem(wave)
        t = x.size(1)
        frames = torch.arange(t, device=x.device)
        mask = frames[None, :] < torch.div(length + self.hop - 1, self.hop, rounding_mode="floor")[:, None]
        pos = self.audio_pos_start + torch.clamp(frames, max=self.audio_pos_last)
        x = x + self.pos_a(pos)[None] + self.target_emb(target).unsqueeze(1)
        allowed = mask[:, None, None, :]
        for layer in self.enc_layers:
            x = layer(x, allowed)
        return self.enc_ln(x), mask

    @torch.jit.export
    def frame_probs(self, wave: Tensor, target: int) -> Tensor:
        """wave [N] at 16 kHz, any length -> probabilities [ceil(N/256),4,88] of the frame head
        (onset, frame, offset, velocity): the input is cut into 4.096 s windows overlapping by
        2 x 0.5 s, of which each keeps its middle, run 8 windows at a time."""
        hop, margin = self.hop, self.margin_frames
        n_frames = max(1, (wave.size(0) + hop - 1) // hop)
        keep = self.window_frames - 2 * margin
        count = (n_frames + keep - 1) // keep
        width = self.window_frames * hop
        need = (count - 1) * keep * hop + width
        left = margin * hop
        padded = F.pad(wave.unsqueeze(0), [left, max(0, need - left - wave.size(0))])[0, :need]
        windows = padded.unfold(0, width, keep * hop)  # [count, width]
        valid = torch.clamp(wave.size(0) + left - torch.arange(count, device=wave.device) * keep * hop, 0, width)
        out: List[Tensor] = []
        for s in range(0, count, 8):
            w = windows[s: s + 8]
            tg = torch.full((w.size(0),), target, dtype=torch.long, device=wave.device)
            memory, _ = self.encode_audio(w, valid[s: s + 8], tg)
            out.append(torch.sigmoid(self.frame_logits(memory, w))[:, margin: margin + keep])
        return torch.cat(out, 0).reshape(-1, 4, self.keys)[:n_frames]

    def frame_logits(self, memory: Tensor, wave: Tensor) -> Tensor:
        """The frame head's logits [B,T,4,88] over encoder states of the waveform windows [B,N]
        (with the harmonic branch's, when the network has one)."""
        if self.use_harmonic:
            return self.frame_head(memory, self.harmonic(wave))
        return self.frame_head(memory, memory.new_zeros(1, 1, 4, self.keys))

    @torch.jit.export
    def transcribe_frames(self, wave: Tensor, target: int, onset_threshold: float,
                          frame_threshold: float) -> Tensor:
        """wave [N] at 16 kHz -> notes [K,4]: MIDI pitch, onset_s, offset_s, velocity 1..127, by onset
        (the frame head's probabilities through the note rule of umt_model/hearing.py notes_of)."""
        notes = notes_of(self.frame_probs(wave, target), onset_threshold, frame_threshold)
        seconds = torch.tensor([1.0, self.seconds_per_frame, self.seconds_per_frame, 1.0], dtype=notes.dtype,
                               device=notes.device)
        return notes * seconds

    def encode_source(self, src: Tensor, pos: Tensor, target: Tensor) -> Tuple[Tensor, Tensor]:
        """A training batch's source: frames [B,S,4] with positions, pixels [B,1,H,W] with each
        image's (rows, columns) in pos (umt_model/data.py collate_pixels), or a waveform [B,N]
        with each input's length in samples in pos (an audio_stem "mel" network)."""
        if src.dim() == 4:
            return self.encode_pixels(src.to(self.pos_a.weight.dtype), pos, target)
        if src.dim() == 2:
            return self.encode_audio(src, pos, target)
        return self.encode(src, pos, target)

    def column_reading(self, memory: Tensor) -> Tensor:
        """What the CTC head reads in each column (aux_ctc networks): memory [B,S,D] -> its class
        probabilities summed over the column's sub-positions [B,S,C], then the duration head's
        (aux_durations networks) [B,S,C+K], then the dense head's probabilities (copy_heads networks)."""
        b, s, _ = memory.shape
        read = self.ctc(memory).view(b, s, self.ctc_up, self.ctc_classes).softmax(-1).sum(2)
        if self.dur_classes > 0:
            timing = self.dur_ctc(memory).view(b, s, self.ctc_up, self.dur_classes).softmax(-1).sum(2)
            read = torch.cat([read, timing], 2)
        if self.copy_heads:
            read = torch.cat([read, torch.sigmoid(self.head_map(memory))], 2)
        return read

    @torch.jit.export
    def init_cross(self, memory: Tensor) -> Cache:
        """Cross-attention keys and values of every decoder layer, computed once per input."""
        out: Cache = []
        read = memory.new_zeros(0)
        if self.ctc_values or self.copy_ctc > 0:
            read = self.column_reading(memory)
        if self.ctc_values:
            memory = memory + self.ctc_val(read)
        if not self.cross_positions:
            for layer in self.dec_layers:
                out.append(layer.cross_att.project_kv(memory))
        else:
            pe = sinusoids(memory.size(1), memory.size(2), memory.device).to(memory.dtype)[None]
            i = 0
            for layer in self.dec_layers:
                out.append(layer.cross_att.project_kv_placed(memory, pe, self.cross_pos_gate[i, 0:1],
                                                             self.cross_pos_gate[i, 1:2]))
                i += 1
        if self.copy_ctc > 0:  # each column's CTC reading, after the layers' keys and values
            out.append((read, read))
        return out

    @torch.jit.export
    def decode_step(self, frames: Tensor, pos: Tensor, cross: Cache, memory_mask: Tensor,
                    cache: Cache) -> Tuple[Tensor, Cache]:
        """frames [B,T,4] new frames after the cached ones (cache empty = none) -> hidden [B,T,D], cache.
        A locate network reads its frames one at a time, each told the column the one before looked
        at; that column is the cache's last entry (after the layers')."""
        if self.locate == 0:
            hidden, new_cache, _ = self.decode_layers(frames, pos, cross, memory_mask, cache, None)
            return hidden, new_cache
        b = frames.size(0)
        layers: Cache = []
        loc = torch.zeros(b, 1, device=frames.device)
        if len(cache) > self.n_dec:
            layers = cache[:self.n_dec]
            loc = cache[self.n_dec][0]
        outs: List[Tensor] = []
        for j in range(frames.size(1)):
            hidden, layers, att = self.decode_layers(frames[:, j:j + 1], pos[:, j:j + 1], cross, memory_mask, layers, loc)
            loc = att[:, -1].argmax(-1, keepdim=True).to(torch.float32)
            outs.append(hidden)
        layers.append((loc, loc))
        return torch.cat(outs, 1), layers

    def decode_layers(self, frames: Tensor, pos: Tensor, cross: Cache, memory_mask: Tensor, cache: Cache,
                      loc: Optional[Tensor]) -> Tuple[Tensor, Cache, Tensor]:
        """The decoder's layers over new frames; loc [B,T] the column each was told (locate networks).
        -> hidden [B,T,D], the layers' cache, the last layer's first `locate` heads' cross-attention
        (mean) [B,T,S] (a network without locate: the last layer's attention [B,H,T,S] as it is)."""
        t = frames.size(1)
        past = 0
        if len(cache) > 0:
            past = cache[0][0].size(2)
        qi = torch.arange(t, device=frames.device).unsqueeze(1) + past
        ki = torch.arange(past + t, device=frames.device).unsqueeze(0)
        causal = ki <= qi
        if self.self_window > 0:
            causal = causal & ((qi - ki < self.self_window) | (ki < self.self_sink))
        causal = causal[None, None, :, :]
        memory_allowed = memory_mask[:, None, None, :]
        x = self.embed(frames, pos)
        if loc is not None and self.locate > 0:  # the columns' sinusoids (the table cross_positions adds to the keys)
            x = x + self.loc_proj(sinusoids_at(loc, self.width))
        new_cache: Cache = []
        att = memory_mask.new_zeros(0).to(x.dtype)
        i = 0
        for layer in self.dec_layers:
            layer_past: Optional[Tuple[Tensor, Tensor]] = None
            if len(cache) > 0:
                layer_past = cache[i]
            x, kv, att = layer(x, layer_past, causal, cross[i], memory_allowed)
            new_cache.append(kv)
            i += 1
        if self.copy_ctc > 0:
            x = x + self.copy_proj(torch.matmul(att[:, :self.copy_ctc].mean(1), cross[self.n_dec][0]))
        if self.locate > 0:
            att = att[:, :self.locate].mean(1)
        return self.dec_ln(x), new_cache, att

    def sub_hidden(self, slots: Tensor) -> Tensor:
        """slots [N,J,D] -> final states [N,J,D] of the causal sub-decoder."""
        j = slots.size(1)
        idx = torch.arange(j, device=slots.device)
        x = slots + self.slot_pos(idx).unsqueeze(0)
        causal = (idx.unsqueeze(0) <= idx.unsqueeze(1))[None, None, :, :]
        for layer in self.sub_layers:
            x = layer(x, causal)
        return self.sub_ln(x)

    def sub_logits(self, slots: Tensor) -> Tensor:
        """slots [N,J,D] -> logits [N,J,V] of the causal sub-decoder (unmasked)."""
        return self.out(self.sub_hidden(slots))

    @torch.jit.export
    def sub_step(self, hidden: Tensor, codes: Tensor, target: Tensor) -> Tensor:
        """hidden [B,D], codes [B,j] emitted so far in this step, target [B] -> masked logits [B,V] of slot j."""
        j = codes.size(1)
        slots = hidden.unsqueeze(1)
        if j > 0:
            slots = torch.cat([slots, hidden.unsqueeze(1) + self.tok_emb(codes)], 1)
        h = self.sub_hidden(slots)[:, j]
        allowed = self.slot_masks[target, j]
        # Only the rows of the ids some target allows (an LMX step: 229 of ~9,900): the output layer
        # is the largest matrix of a decoding step, and a one-token step cannot amortize reading it.
        ids = allowed.any(0).nonzero().squeeze(1)
        logits = torch.full((h.size(0), allowed.size(1)), float("-inf"), dtype=h.dtype, device=h.device)
        logits.index_copy_(1, ids, F.linear(h, self.out.weight.index_select(0, ids), self.out.bias.index_select(0, ids)))
        return logits.masked_fill(torch.logical_not(allowed), float("-inf"))

    @torch.jit.unused
    def forward(self, src_frames: Tensor, src_pos: Tensor, target: Tensor, tgt_frames: Tensor,
                tgt_pos: Tensor, tgt_input: Optional[Tensor] = None, ctc_targets: Optional[Tensor] = None, ctc_weight: float = 0.0,
                token_weight: float = 1.0, frame_targets: Optional[Tensor] = None,
                frame_weight: float = 0.0, encoded: Optional[Tuple[Tensor, Tensor]] = None,
                head_targets: Optional[Tensor] = None, head_weight: float = 0.0,
                tgt_loc: Optional[Tensor] = None) -> Tensor:
        """Teacher-forced loss: tgt_frames [B,T,4] begin..end; predicts frames 1..T-1 from 0..T-2
        (of tgt_input when given: the same frames, some blanked, so the decoder must read the input).
        With ctc_weight > 0 (image inputs, an aux_ctc network) adds ctc_weight x ctc_loss.
        With frame_weight > 0 (waveform inputs of an audio_stem "mel" network) adds frame_weight x
        the frame head's loss against frame_targets [B,T,4,88] (umt_model/hearing.py frame_loss).
        The token loss is scaled by token_weight; 0 skips the decoder (encoder pretraining on the
        auxiliary losses alone). encoded: the source's (memory, mask) when the caller encoded it
        (e.g. without gradients, for a decoder trained over a frozen encoder). With head_weight > 0
        (an aux_heads network) adds head_weight x head_loss against head_targets [B,S',K] (rows of
        inputs without positions all -1: left out).

        Cross-entropy over the 4 slots ignoring PAD; slots 1-3 of whole-frame tokens (SEP, height)
        are copies of slot 0 and not predicted.
        """
        memory, mask = encoded if encoded is not None else self.encode_source(src_frames, src_pos, target)
        extra = memory.new_zeros(())
        if ctc_targets is not None and ctc_weight > 0:
            extra = extra + self.ctc_loss(memory, mask, ctc_targets) * ctc_weight
        if head_targets is not None and head_weight > 0:
            extra = extra + self.head_loss(memory, mask, head_targets) * head_weight
        if frame_targets is not None and frame_weight > 0:
            extra = extra + frame_loss(self.frame_logits(memory, src_frames), frame_targets, mask) * frame_weight
        if token_weight == 0:
            return extra
        cross = self.init_cross(memory)
        empty: Cache = []
        given = tgt_frames if tgt_input is None else tgt_input
        if self.locate > 0 and tgt_loc is not None:  # teacher-forced columns: all steps in one pass
            hidden, _, _ = self.decode_layers(given[:, :-1], tgt_pos[:, :-1], cross, mask, empty, tgt_loc)
        else:
            hidden, _ = self.decode_step(given[:, :-1], tgt_pos[:, :-1], cross, mask, empty)
        gold = tgt_frames[:, 1:]
        b, t, _ = gold.shape
        prev = self.tok_emb(gold[:, :, : N_SLOTS - 1])  # slot j sees code j-1
        slots = torch.cat([hidden.unsqueeze(2), hidden.unsqueeze(2) + prev], 2).view(b * t, N_SLOTS, -1)
        whole = gold[:, :, 0:1] == gold[:, :, 1:2]
        gold_rest = gold[:, :, 1:].masked_fill(whole & (gold[:, :, 0:1] != 0), 0)  # PAD
        gold = torch.cat([gold[:, :, 0:1], gold_rest], 2).reshape(b * t, N_SLOTS)
        if bool((target == target[0]).all()):
            # Trailing slots that are PAD everywhere (whole-frame tokens: LMX, MIDI) are not predicted;
            # the sub-decoder is causal, so the slots before them come out the same without them.
            used = N_SLOTS
            while used > 1 and not bool((gold[:, used - 1] != 0).any()):
                used -= 1
            return self.restricted_loss(self.sub_hidden(slots[:, :used]), gold[:, :used],
                                        int(target[0])) * token_weight + extra
        logits = self.sub_logits(slots).view(b, t, N_SLOTS, -1)
        allowed = self.slot_masks[target][:, None, :, :]
        logits = logits.masked_fill(torch.logical_not(allowed), -1e9)
        return F.cross_entropy(logits.reshape(-1, logits.size(-1)), gold.reshape(-1),
                               ignore_index=0) * token_weight + extra  # PAD

    @torch.jit.unused
    def head_loss(self, memory: Tensor, mask: Tensor, targets: Tensor) -> Tensor:
        """Binary cross-entropy of the dense head (memory [B,S,D]) against targets [B,S',K] (1 a head
        or rest of that class centred in the column, 0 none, -1 unknown: an input without
        positions, or columns beyond it): summed over the classes, averaged over the columns that count."""
        return dense_loss(self.head_map(memory), mask, targets)

    @torch.jit.unused
    def rhythm_loss(self, told: Tensor, mask: Tensor, targets: Tensor) -> Tensor:
        """head_loss's, of the rhythm branch's own head (told: encode_pixels_parts' branch columns)."""
        return dense_loss(self.rhythm_head(told), mask, targets)

    @torch.jit.unused
    def ctc_loss(self, memory: Tensor, mask: Tensor, targets: Tensor, timing: bool = False) -> Tensor:
        """CTC of targets [B,L] (class ids 1.., 0 = padding and the blank) over CTC_UP sub-positions
        of each encoder position (columns are left-aligned, padding after): nats per target class.
        timing: the duration head's (aux_durations networks) instead of the CTC head's."""
        b, s, _ = memory.shape
        head, classes = (self.dur_ctc, self.dur_classes) if timing else (self.ctc, self.ctc_classes)
        logp = head(memory).view(b, s * CTC_UP, classes).log_softmax(-1).transpose(0, 1)
        lengths = mask.sum(1) * CTC_UP
        return F.ctc_loss(logp, targets, lengths, (targets > 0).sum(1), blank=0, reduction="mean",
                          zero_infinity=True)

    @torch.jit.unused
    def restricted_loss(self, h: Tensor, gold: Tensor, target: int) -> Tensor:
        """The masked cross-entropy of forward() for a batch with one target modality, computing
        logits only over each slot's allowed ids (the same value; 4-10x less work for RVQ targets);
        h and gold may hold the first slots only."""
        total = h.new_zeros(())
        count = 0
        for j in range(gold.size(1)):
            g = gold[:, j]
            keep = g != 0  # PAD
            n = int(keep.sum())
            if n == 0:
                continue
            ids = self.slot_masks[target, j].nonzero().squeeze(1)
            where = torch.full((self.vocab_size,), -100, dtype=torch.long, device=h.device)
            where[ids] = torch.arange(ids.numel(), device=h.device)
            logits = F.linear(h[keep, j], self.out.weight[ids], self.out.bias[ids])
            total = total + F.cross_entropy(logits, where[g[keep]], ignore_index=-100, reduction="sum")
            count += n
        return total / max(count, 1)
