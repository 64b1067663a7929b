"""Residual-VQ codecs: score-image systems (16x downsampling) and piano audio (one frame per hop).

encode()/decode() are what C++ calls (TorchScript); everything else is for training.
Every codec emits 4 codes per cell/frame from 4 residual codebooks. The codebooks are buffers
updated by exponential moving averages in the trainer (scripts/train_codec.py), not by the
optimizer: EMA codebooks with dead-code restarts keep utilisation high on small CPU runs.

Image codec: convolutional encoder/decoder (no attention); input and output grayscale in
[0, 1] with 1 = white paper; the network works on ink = 1 - pixel and predicts ink logits.

Audio codec: Vocos-style. The encoder reads the log-magnitude STFT (window 4 x hop) through
ConvNeXt blocks at frame rate; the decoder predicts the STFT (log-magnitude and phase) of
each frame and an inverse STFT makes the waveform. Everything runs at frame rate, which is
what makes a codec of DAC-like quality trainable and fast on two CPU cores.
"""
from typing import Dict, List, Tuple


import torch
import torch.nn as nn
import torch.nn.functional as F
from torch import Tensor

N_CODEBOOKS = 4  # written as a literal 4 inside TorchScript methods (no globals there)


class ResidualVQ(nn.Module):
    def __init__(self, dim: int, codebook_size: int):
        super().__init__()
        self.register_buffer("codebooks", torch.randn(4, codebook_size, dim) * 0.1)

    def levels(self, z: Tensor) -> Tuple[List[Tensor], List[Tensor], Tensor]:
        """z [N,C] -> per level: chosen codes [N] and the residual entering it [N,C]; quantized [N,C]
        (the sum of the chosen code vectors). The trainer's EMA updates read the residuals."""
        residual = z
        quantized = torch.zeros_like(z)
        codes: List[Tensor] = []
        residuals: List[Tensor] = []
        for j in range(4):
            cb = self.codebooks[j]
            dist = (residual * residual).sum(1, keepdim=True) - 2.0 * residual @ cb.t() + (cb * cb).sum(1).unsqueeze(0)
            idx = dist.argmin(1)
            q = cb[idx]
            codes.append(idx)
            residuals.append(residual)
            quantized = quantized + q
            residual = residual - q
        return codes, residuals, quantized

    def quantize(self, z: Tensor) -> Tuple[Tensor, Tensor]:
        """z [N,C] -> codes [N,4], quantized [N,C]."""
        codes, _, quantized = self.levels(z)
        return torch.stack(codes, 1), quantized

    def lookup(self, codes: Tensor) -> Tensor:
        """codes [N,4] -> [N,C]."""
        out = self.codebooks[0][codes[:, 0]]
        for j in range(1, 4):
            out = out + self.codebooks[j][codes[:, j]]
        return out


class Res2d(nn.Module):
    def __init__(self, c: int):
        super().__init__()
        self.a = nn.Conv2d(c, c, 3, 1, 1)
        self.b = nn.Conv2d(c, c, 3, 1, 1)

    def forward(self, x: Tensor) -> Tensor:
        return x + self.b(F.gelu(self.a(F.gelu(x))))


IMAGE_DEFAULTS = {"channels": [24, 48, 64, 128, 256], "dim": 64}


class ImageCodec(nn.Module):
    """Grayscale [B,1,H,W] in [0,1] (H, W multiples of 16) <-> codes [B,H/16,W/16,4]."""

    def __init__(self, codebook_size: int, config: Dict[str, object] = None):
        super().__init__()
        cfg = dict(IMAGE_DEFAULTS, **(config or {}))
        c0, c1, c2, c3, c4 = cfg["channels"]
        dim = int(cfg["dim"])
        self.config = {"channels": [c0, c1, c2, c3, c4], "dim": dim}
        self.enc = nn.Sequential(
            nn.Conv2d(1, c0, 3, 1, 1), nn.GELU(),
            nn.Conv2d(c0, c1, 4, 2, 1), nn.GELU(),
            nn.Conv2d(c1, c2, 4, 2, 1), nn.GELU(),
            nn.Conv2d(c2, c3, 4, 2, 1), Res2d(c3), nn.GELU(),
            nn.Conv2d(c3, c4, 4, 2, 1), Res2d(c4), Res2d(c4), nn.GELU(),
            nn.Conv2d(c4, dim, 1))
        self.dec = nn.Sequential(
            nn.Conv2d(dim, c4, 3, 1, 1), Res2d(c4), Res2d(c4), nn.GELU(),
            nn.ConvTranspose2d(c4, c3, 4, 2, 1), Res2d(c3), nn.GELU(),
            nn.ConvTranspose2d(c3, c2, 4, 2, 1), nn.GELU(),
            nn.ConvTranspose2d(c2, c1, 4, 2, 1), nn.GELU(),
            nn.ConvTranspose2d(c1, c0, 4, 2, 1), nn.GELU(),
            nn.Conv2d(c0, c0, 3, 1, 1), nn.GELU(),
            nn.Conv2d(c0, 1, 3, 1, 1))
        self.vq = ResidualVQ(dim, codebook_size)
        self.dim = dim

    @torch.jit.export
    def encode(self, image: Tensor) -> Tensor:
        z = self.latents(image)  # [B,C,h,w]
        b, c, h, w = z.shape
        codes, _ = self.vq.quantize(z.permute(0, 2, 3, 1).reshape(-1, c))
        return codes.view(b, h, w, 4)

    @torch.jit.export
    def decode(self, codes: Tensor) -> Tensor:
        b, h, w, _ = codes.shape
        z = self.vq.lookup(codes.reshape(-1, 4)).view(b, h, w, self.dim).permute(0, 3, 1, 2)
        return 1.0 - torch.sigmoid(self.dec(z))

    def latents(self, image: Tensor) -> Tensor:
        """[B,1,H,W] -> unit-length latents [B,C,h,w] (a fixed scale keeps the codebooks from collapsing)."""
        return F.normalize(self.enc(1.0 - image), dim=1)

    @torch.jit.unused
    def decode_latents(self, z: Tensor) -> Tensor:
        """[B,C,h,w] -> ink logits [B,1,H,W]."""
        return self.dec(z)

    def forward(self, image: Tensor) -> Tensor:
        return self.decode(self.encode(image))


class ConvNeXt1d(nn.Module):
    def __init__(self, c: int, expand: int = 3):
        super().__init__()
        self.dw = nn.Conv1d(c, c, 7, 1, 3, groups=c)
        self.norm = nn.LayerNorm(c)
        self.pw1 = nn.Linear(c, expand * c)
        self.pw2 = nn.Linear(expand * c, c)
        self.gamma = nn.Parameter(torch.full((c,), 0.1))

    def forward(self, x: Tensor) -> Tensor:  # [B,C,T]
        y = self.dw(x).transpose(1, 2)
        y = self.pw2(F.gelu(self.pw1(self.norm(y))))
        return x + (self.gamma * y).transpose(1, 2)


AUDIO_DEFAULTS = {"width": 256, "encoder_blocks": 4, "decoder_blocks": 6, "dim": 64, "window_hops": 4}


class AudioCodec(nn.Module):
    """Mono waveform [B,N] (N a multiple of hop) <-> codes [B,N/hop,4]."""

    def __init__(self, codebook_size: int, hop: int, config: Dict[str, object] = None):
        super().__init__()
        cfg = dict(AUDIO_DEFAULTS, **(config or {}))
        self.config = {k: int(cfg[k]) for k in AUDIO_DEFAULTS}
        width, dim = self.config["width"], self.config["dim"]
        self.hop = hop
        self.n_fft = hop * self.config["window_hops"]
        self.bins = self.n_fft // 2 + 1
        self.dim = dim
        self.register_buffer("window", torch.hann_window(self.n_fft), persistent=False)
        self.enc_in = nn.Conv1d(self.bins, width, 7, 1, 3)
        self.enc = nn.Sequential(*[ConvNeXt1d(width) for _ in range(self.config["encoder_blocks"])])
        self.enc_norm = nn.LayerNorm(width)
        self.enc_out = nn.Linear(width, dim)
        self.dec_in = nn.Conv1d(dim, width, 7, 1, 3)
        self.dec = nn.Sequential(*[ConvNeXt1d(width) for _ in range(self.config["decoder_blocks"])])
        self.dec_norm = nn.LayerNorm(width)
        self.dec_out = nn.Linear(width, 2 * self.bins)
        self.vq = ResidualVQ(dim, codebook_size)

    def latents(self, wave: Tensor) -> Tensor:
        """[B,N] -> unit-length latents [B,T,dim] with T = N / hop."""
        spec = torch.stft(wave, self.n_fft, self.hop, self.n_fft, self.window, center=True, return_complex=True)
        t = wave.shape[1] // self.hop
        mag = spec.abs()[:, :, :t]
        x = self.enc(self.enc_in(torch.log(mag + 1e-4)))
        return F.normalize(self.enc_out(self.enc_norm(x.transpose(1, 2))), dim=2)

    def synthesize(self, z: Tensor) -> Tensor:
        """[B,T,dim] -> waveform [B,T*hop]."""
        b, t, _ = z.shape
        x = self.dec(self.dec_in(z.transpose(1, 2)))
        x = self.dec_out(self.dec_norm(x.transpose(1, 2))).transpose(1, 2)  # [B,2*bins,T]
        logmag = torch.clamp(x[:, :self.bins], max=6.0)
        phase = x[:, self.bins:]
        mag = torch.exp(logmag)
        spec = torch.complex(mag * torch.cos(phase), mag * torch.sin(phase))
        spec = torch.cat([spec, torch.zeros_like(spec[:, :, :1])], 2)  # T+1 frames -> T*hop samples
        return torch.istft(spec, self.n_fft, self.hop, self.n_fft, self.window, center=True, length=t * self.hop)

    @torch.jit.export
    def encode(self, wave: Tensor) -> Tensor:
        z = self.latents(wave)
        b, t, c = z.shape
        codes, _ = self.vq.quantize(z.reshape(-1, c))
        return codes.view(b, t, 4)

    @torch.jit.export
    def decode(self, codes: Tensor) -> Tensor:
        b, t, _ = codes.shape
        z = self.vq.lookup(codes.reshape(-1, 4)).view(b, t, self.dim)
        return self.synthesize(z)

    def forward(self, wave: Tensor) -> Tensor:
        return self.decode(self.encode(wave))

