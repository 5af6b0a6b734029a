"""Batched on-device augmentation: one random affine map per image, applied to the whole batch
with a single affine_grid + grid_sample (no per-image Python, no PIL)."""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from budgetnet.spec.schema import AugmentCfg


def augment(x: torch.Tensor, cfg: AugmentCfg, generator: torch.Generator | None = None) -> torch.Tensor:
    """The recipe's augmentation of a batch: the random affine map, then (hflip) a mirror image
    for a random half. Each draws random numbers only when it is on, so a recipe without flips
    keeps the random stream (and the results) it always had."""
    x = random_affine(x, cfg, generator)
    if cfg.hflip:
        flip = torch.rand(x.shape[0], device=x.device, generator=generator) < 0.5
        x = torch.where(flip.view(-1, 1, 1, 1), x.flip(-1), x)
    return x


def random_affine(x: torch.Tensor, cfg: AugmentCfg, generator: torch.Generator | None = None) -> torch.Tensor:
    """x: (B, C, H, W) with background 0 -> the same batch, each image moved by its own
    rotation (+-rotate degrees), shear (+-shear degrees), zoom (1 +- scale) and shift
    (+-translate of the side). Outside pixels are filled with 0 (background)."""
    if not (cfg.rotate or cfg.translate or cfg.scale or cfg.shear):
        return x
    b = x.shape[0]

    def uniform(limit: float) -> torch.Tensor:  # (B,) in [-limit, limit]
        return (torch.rand(b, device=x.device, generator=generator) * 2 - 1) * limit

    angle = uniform(math.radians(cfg.rotate))
    shear = uniform(math.radians(cfg.shear))
    zoom = 1 + uniform(cfg.scale)
    tx, ty = uniform(2 * cfg.translate), uniform(2 * cfg.translate)  # grid coords span 2
    cos, sin = torch.cos(angle), torch.sin(angle)
    # theta maps output coords to input coords: inverse of rotate * shear * zoom
    theta = torch.stack([
        torch.stack([cos, -sin + torch.tan(shear) * cos, tx], dim=1),
        torch.stack([sin, cos + torch.tan(shear) * sin, ty], dim=1),
    ], dim=1) / zoom.view(b, 1, 1)  # (B, 2, 3)
    theta[:, :, 2] *= zoom.view(b, 1)  # keep the shift in output units
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    return F.grid_sample(x, grid, mode="bilinear", padding_mode="zeros", align_corners=False)
