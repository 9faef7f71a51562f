"""Encoder-side latent refinement: tune the latents of one image before coding them.

An amortized encoder g_a gives good latents on average, not the best ones for each image. This
module descends on the image's own rate-distortion loss ``bits / pixels + lmbda * 255^2 * MSE``
with respect to the latents (the networks stay fixed), then codes the result. Rounding is
relaxed by stochastic Gumbel annealing (SGA, Yang et al. 2020, "Improving Inference for Neural
Image Compression"): each value is sent to its lower or upper integer neighbour (around its
centre) by a Gumbel-softmax whose temperature falls from 0.5 towards 0, so the loss being
minimised ends at the loss of the rounded latents that are coded.

The decoder and the file format do not change: a refined file decodes with any pixelsmith,
as fast as before. Encoding costs ``steps`` forward and backward passes (about 0.2 s each for
a 768x512 image on 2 CPU cores with the shipped models). The result is the better, by the real
coded loss, of the refined latents and the plain ones, so refinement never makes a file
worse by its own measure. The noise comes from a generator seeded with ``seed``: the same
image, model, settings and machine give the same bytes.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from pixelsmith.codec.models import RD_SCALE, Codec
from pixelsmith.errors import PixelsmithError

#: memory refinement adds per image pixel and hidden channel (N), set above what
#: benchmarks/codec_refine_memory.py measures on large images (docs/BENCHMARKS.md)
BYTES_PER_PIXEL_CHANNEL = 14


@dataclass(frozen=True)
class RefineSettings:
    """How hard to refine. The learning rate and schedule were chosen on CBSD432/val32."""

    steps: int = 100
    lr: float = 0.08
    start_temperature: float = 0.5
    seed: int = 0

    def __post_init__(self) -> None:
        if self.steps < 0:
            raise PixelsmithError(f"refinement steps must be >= 0, got {self.steps}")
        if not self.lr > 0 or not self.start_temperature > 0:
            raise PixelsmithError("refinement lr and temperature must be > 0")


def available_memory(device: torch.device) -> int | None:
    """Free memory in bytes where it can be read (CUDA, or Linux's MemAvailable), else None."""
    if device.type == "cuda":
        return int(torch.cuda.mem_get_info(device)[0])
    try:
        with open("/proc/meminfo") as meminfo:
            for line in meminfo:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return None


def check_memory(codec: Codec, x: torch.Tensor) -> None:
    """A one-line error, before any work, when refining x would not fit in free memory."""
    needed = BYTES_PER_PIXEL_CHANNEL * codec.N * x.shape[-2] * x.shape[-1]
    free = available_memory(x.device)
    if free is not None and needed > free:
        raise PixelsmithError(
            f"refining a {x.shape[-1]}x{x.shape[-2]} image needs about {needed / 2**30:.1f} GB "
            f"of memory and {free / 2**30:.1f} GB is free; compress it without --refine, or "
            "scale it down")


def temperature(step: int, settings: RefineSettings) -> float:
    """Linear annealing from ``start_temperature`` towards 0 (kept above 1e-3)."""
    return max(settings.start_temperature * (1.0 - step / settings.steps), 1e-3)


def sga_round(values: torch.Tensor, centre: torch.Tensor, tau: float,
              generator: torch.Generator) -> torch.Tensor:
    """Stochastic Gumbel annealing: a soft choice between floor and ceil of values - centre.

    The odds of each neighbour fall with its distance r as exp(-atanh(r) / tau); Gumbel noise
    makes the choice random, and as tau -> 0 it becomes plain rounding.
    """
    offset = values - centre
    floor = torch.floor(offset).detach()
    frac = (offset - floor).clamp(1e-5, 1.0 - 1e-5)
    logits = torch.stack([-torch.atanh(frac), -torch.atanh(1.0 - frac)]) / tau
    uniform = torch.rand(logits.shape, generator=generator, device=values.device)
    gumbel = -torch.log(-torch.log(uniform.clamp_min(1e-10)))
    weight_up = torch.softmax(logits + gumbel, dim=0)[1]
    return centre + floor + weight_up


def coded_loss(codec: Codec, latents: dict[str, torch.Tensor], x: torch.Tensor,
               valid: tuple[int, int]) -> tuple[float, list[bytes]]:
    """The real loss of coding ``latents``: bits on disk per valid pixel + lambda * MSE."""
    height, width = valid
    streams = codec.compress_latents(latents)
    with torch.no_grad():
        x_hat = codec.decompress_padded(streams, x.shape[-2], x.shape[-1]).clamp(0.0, 1.0)
    mse = float(torch.mean((x_hat - x)[..., :height, :width] ** 2))
    bits = 8.0 * sum(len(stream) for stream in streams)
    return bits / (height * width) + codec.lmbda * RD_SCALE * mse, streams


def refine_compress(codec: Codec, x: torch.Tensor, valid: tuple[int, int],
                    settings: RefineSettings, progress: bool = False) -> list[bytes]:
    """The byte streams of padded image x after refining its latents.

    ``valid`` is the (height, width) of the image inside the padding: only those pixels count
    in the distortion, as only they are decoded.
    """
    if not hasattr(codec, "relaxed") or codec.lmbda <= 0:
        raise PixelsmithError(f"{type(codec).__name__} cannot refine latents (it needs an "
                              "entropy model and the lambda it was trained with)")
    if settings.steps:
        check_memory(codec, x)
    with torch.no_grad():
        start = codec.analyse(x)
    base_loss, base_streams = coded_loss(codec, start, x, valid)
    if settings.steps == 0:
        return base_streams
    latents = {name: value.clone().requires_grad_(True) for name, value in start.items()}
    optimizer = torch.optim.Adam(latents.values(), lr=settings.lr)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, settings.steps)
    generator = torch.Generator(device=x.device).manual_seed(settings.seed)
    height, width = valid
    frozen = [p for p in codec.parameters() if p.requires_grad]
    for param in frozen:
        param.requires_grad_(False)
    try:
        for step in _steps(settings.steps, progress):
            tau = temperature(step, settings)
            bits, x_hat = codec.relaxed(
                latents, lambda v, c, tau=tau: sga_round(v, c, tau, generator))
            mse = torch.mean((x_hat - x)[..., :height, :width] ** 2)
            loss = bits / (height * width) + codec.lmbda * RD_SCALE * mse
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            schedule.step()
    finally:
        for param in frozen:
            param.requires_grad_(True)
    refined = {name: value.detach() for name, value in latents.items()}
    refined_loss, refined_streams = coded_loss(codec, refined, x, valid)
    return refined_streams if refined_loss < base_loss else base_streams


def _steps(count: int, progress: bool):
    if not progress:
        return range(count)
    from tqdm import tqdm

    return tqdm(range(count), desc="refine", unit="step", leave=False, dynamic_ncols=True)
