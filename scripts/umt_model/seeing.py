"""How the I2A sees: a residual CNN over the system's pixels, one vector per 8-pixel column.

The image modality's `features` input (DESIGN.md's encodings) as Zeus reads a staff (OLiMPiC,
Mayer et al. 2024): a CNN of four stride-2 stages with BatchNorm and residual blocks, the rows that
remain collapsed into one vector per column, and the encoder over the columns. Here the fourth
stage halves the height only, so a column is 8 pixels (one staff space at the normalized 32-pixel
staff) wide: more encoder positions than note heads, as the CTC head on the encoder needs.
Written for torch 1.13 TorchScript.
"""
from typing import Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch import Tensor

COLUMN_PX = 8  # image pixels per encoder position
CHANNELS = (32, 64, 128, 160)


def keep_mask(x: Tensor, size: Tensor, down_rows: int, down_cols: int) -> Tensor:
    """[B,1,h,w] 1 on the cells of x [B,C,h,w] inside each image (size [B,2] in 16-pixel cells, x
    down_rows x down_cols input pixels per cell), 0 beyond."""
    rows = torch.arange(x.size(2), device=x.device)[None, :] < size[:, 0:1] * (16 // down_rows)
    cols = torch.arange(x.size(3), device=x.device)[None, :] < size[:, 1:2] * (16 // down_cols)
    return (rows[:, None, :, None] & cols[:, None, None, :]).to(x.dtype)


class Down(nn.Sequential):
    """3x3 convolution (stride 2, or 2 x 1), BatchNorm, ReLU; cells beyond the image set to 0."""

    def __init__(self, cin: int, cout: int, stride, down_rows: int, down_cols: int):
        super().__init__(nn.Conv2d(cin, cout, 3, stride, 1, bias=False), nn.BatchNorm2d(cout), nn.ReLU())
        self.down_rows, self.down_cols = down_rows, down_cols

    def forward(self, x: Tensor, size: Tensor) -> Tensor:
        for layer in self:
            x = layer(x)
        return x * keep_mask(x, size, self.down_rows, self.down_cols)


class Residual(nn.Module):
    def __init__(self, c: int, down_rows: int, down_cols: int):
        super().__init__()
        self.a = nn.Conv2d(c, c, 3, 1, 1, bias=False)
        self.na = nn.BatchNorm2d(c)
        self.b = nn.Conv2d(c, c, 3, 1, 1, bias=False)
        self.nb = nn.BatchNorm2d(c)
        self.down_rows, self.down_cols = down_rows, down_cols

    def forward(self, x: Tensor, size: Tensor) -> Tensor:
        keep = keep_mask(x, size, self.down_rows, self.down_cols)
        y = F.relu(self.na(self.a(x))) * keep
        return F.relu(x + self.nb(self.b(y))) * keep


class ColumnCNN(nn.Module):
    """ink [B,1,H,W] (H, W multiples of 16), size [B,2] each image's (rows, columns) of 16-pixel
    cells -> features [B, C, H/16, W/8]. After every convolution the cells beyond each image are
    set to zero, as the convolutions' own padding is: BatchNorm's shift would otherwise turn a
    batch's padding into ink-like values that reach into the image's border, and a system would
    not read the same alone and in a batch."""

    def __init__(self, channels=CHANNELS):
        super().__init__()
        c1, c2, c3, c4 = channels
        self.out_channels = c4
        self.net = nn.ModuleList([
            Down(1, c1, 2, 2, 2), Down(c1, c2, 2, 4, 4), Down(c2, c3, 2, 8, 8), Residual(c3, 8, 8),
            Down(c3, c4, (2, 1), 16, 8), Residual(c4, 16, 8)])

    def forward(self, ink: Tensor, size: Tensor) -> Tensor:
        return self.both(ink, size)[0]

    def both(self, ink: Tensor, size: Tensor) -> Tuple[Tensor, Tensor]:
        """forward's features and the second stage's [B, C2, H/4, W/4] (RhythmBranch's input)."""
        # channels-last: oneDNN's convolutions and the element-wise layers between them run
        # 1.5-2x faster on this layout (training and inference alike)
        x = ink.contiguous(memory_format=torch.channels_last)
        mid = x
        k = 0
        for layer in self.net:
            x = layer(x, size)
            if k == 1:  # the second stage: one cell per 4 x 4 pixels (half a staff space)
                mid = x
            k += 1
        return x, mid


class RhythmBranch(nn.Module):
    """What a column's written durations look like (beams and flags, their number, filled or open
    heads, dots) from ColumnCNN's second stage, where a cell is 4 x 4 pixels (half a staff space) and
    two beams with their gap are apart: two 3x3 convolutions, the maximum over each 8-pixel column's
    two cells and over the rows -> [B, W/8, C]. The later stages halve the height twice more, and
    probes read durations far worse from the last stage's features, or the encoder's, than from
    the second stage's (docs/results/omr.md, session 33)."""

    def __init__(self, cin: int, c: int):
        super().__init__()
        self.a = nn.Conv2d(cin, c, 3, 1, 1)
        self.b = nn.Conv2d(c, c, 3, 1, 1)

    def forward(self, mid: Tensor, size: Tensor) -> Tensor:
        keep = keep_mask(mid, size, 4, 4)
        x = F.relu(self.a(mid)) * keep
        x = F.relu(self.b(x)) * keep  # >= 0, and 0 beyond the image: the maxima ignore padding
        x = F.max_pool2d(x, (1, 2))  # an image is a whole number of 16-pixel cells: pairs stay inside it
        return x.amax(2).transpose(1, 2)


class NoRhythm(nn.Module):
    """The rhythm branch of a network without one: never called, but TorchScript compiles the call."""

    def forward(self, mid: Tensor, size: Tensor) -> Tensor:
        return mid
