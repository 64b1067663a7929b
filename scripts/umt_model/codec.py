"""Residual-VQ autoencoders for score images (16x downsampling) and audio (hop from the manifest).

encode()/decode() are what C++ calls; forward() returns the training loss (reconstruction +
commitment, straight-through estimator). Every codec emits 4 codes per frame.
"""
from typing import Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch import Tensor

N_CODEBOOKS = 4  # written as a literal 4 inside TorchScript methods (no globals there)


class ResidualVQ(nn.Module):
    def __init__(self, dim: int, codebook_size: int):
        super().__init__()
        self.codebooks = nn.Parameter(torch.randn(4, codebook_size, dim))

    def quantize(self, z: Tensor) -> Tuple[Tensor, Tensor]:
        """z [N,C] -> codes [N,4], quantized [N,C] (sum of the chosen code vectors)."""
        residual = z
        quantized = torch.zeros_like(z)
        codes = []
        for j in range(4):
            cb = self.codebooks[j]
            dist = (residual * residual).sum(1, keepdim=True) - 2.0 * residual @ cb.t() + (cb * cb).sum(1).unsqueeze(0)
            idx = dist.argmin(1)
            q = cb[idx]
            codes.append(idx)
            quantized = quantized + q
            residual = residual - q
        return torch.stack(codes, 1), quantized

    def lookup(self, codes: Tensor) -> Tensor:
        """codes [N,4] -> [N,C]."""
        out = self.codebooks[0][codes[:, 0]]
        for j in range(1, 4):
            out = out + self.codebooks[j][codes[:, j]]
        return out


class ImageCodec(nn.Module):
    """Grayscale [B,1,H,W] in [0,1] (H, W multiples of 16) <-> codes [B,H/16,W/16,4]."""

    def __init__(self, codebook_size: int, dim: int = 32, channels: int = 32):
        super().__init__()
        c = channels
        self.enc = nn.Sequential(
            nn.Conv2d(1, c, 4, 2, 1), nn.GELU(), nn.Conv2d(c, c, 4, 2, 1), nn.GELU(),
            nn.Conv2d(c, c, 4, 2, 1), nn.GELU(), nn.Conv2d(c, dim, 4, 2, 1))
        self.dec = nn.Sequential(
            nn.ConvTranspose2d(dim, c, 4, 2, 1), nn.GELU(), nn.ConvTranspose2d(c, c, 4, 2, 1), nn.GELU(),
            nn.ConvTranspose2d(c, c, 4, 2, 1), nn.GELU(), nn.ConvTranspose2d(c, 1, 4, 2, 1))
        self.vq = ResidualVQ(dim, codebook_size)
        self.dim = dim

    @torch.jit.export
    def encode(self, image: Tensor) -> Tensor:
        z = self.enc(image)  # [B,C,h,w]
        b, c, h, w = z.shape
        codes, _ = self.vq.quantize(z.permute(0, 2, 3, 1).reshape(-1, c))
        return codes.view(b, h, w, 4)

    @torch.jit.export
    def decode(self, codes: Tensor) -> Tensor:
        b, h, w, _ = codes.shape
        z = self.vq.lookup(codes.reshape(-1, 4)).view(b, h, w, self.dim).permute(0, 3, 1, 2)
        return torch.sigmoid(self.dec(z))

    @torch.jit.unused
    def forward(self, image: Tensor) -> Tensor:
        z = self.enc(image)
        b, c, h, w = z.shape
        flat = z.permute(0, 2, 3, 1).reshape(-1, c)
        _, q = self.vq.quantize(flat)
        commit = F.mse_loss(flat, q.detach()) + F.mse_loss(q, flat.detach())
        q = flat + (q - flat).detach()
        recon = torch.sigmoid(self.dec(q.view(b, h, w, c).permute(0, 3, 1, 2)))
        return F.mse_loss(recon, image) + 0.25 * commit


class AudioCodec(nn.Module):
    """Mono waveform [B,N] (N a multiple of hop) <-> codes [B,N/hop,4]."""

    def __init__(self, codebook_size: int, hop: int, dim: int = 32, channels: int = 64):
        super().__init__()
        self.hop = hop
        self.dim = dim
        self.enc = nn.Sequential(nn.Conv1d(1, channels, hop, hop), nn.GELU(), nn.Conv1d(channels, dim, 1))
        self.dec = nn.Sequential(nn.Conv1d(dim, channels, 1), nn.GELU(), nn.ConvTranspose1d(channels, 1, hop, hop))
        self.vq = ResidualVQ(dim, codebook_size)

    @torch.jit.export
    def encode(self, wave: Tensor) -> Tensor:
        z = self.enc(wave.unsqueeze(1))  # [B,C,T]
        b, c, t = z.shape
        codes, _ = self.vq.quantize(z.transpose(1, 2).reshape(-1, c))
        return codes.view(b, t, 4)

    @torch.jit.export
    def decode(self, codes: Tensor) -> Tensor:
        b, t, _ = codes.shape
        z = self.vq.lookup(codes.reshape(-1, 4)).view(b, t, self.dim).transpose(1, 2)
        return torch.tanh(self.dec(z)).squeeze(1)

    @torch.jit.unused
    def forward(self, wave: Tensor) -> Tensor:
        z = self.enc(wave.unsqueeze(1))
        b, c, t = z.shape
        flat = z.transpose(1, 2).reshape(-1, c)
        _, q = self.vq.quantize(flat)
        commit = F.mse_loss(flat, q.detach()) + F.mse_loss(q, flat.detach())
        q = flat + (q - flat).detach()
        recon = torch.tanh(self.dec(q.view(b, t, c).transpose(1, 2))).squeeze(1)
        return F.mse_loss(recon, wave) + 0.25 * commit
