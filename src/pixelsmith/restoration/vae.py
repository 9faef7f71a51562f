"""Restoration in a VAE's latent space, with per-pixel uncertainty.

A :class:`~pixelsmith.nets.autoencoder.ConvVAE` trained on one kind of image (digits, faces)
is a prior over those images: its decoder maps a latent z ~ N(0, I) to p(x|z). It restores a
damaged image x by inferring z from what is left of x and decoding:

- **Denoising** (:func:`vae_denoise`): encode the noisy image, decode the posterior mean
  (the decoder's mean image at z = mu(x)). The decoder can only produce images like those it
  was trained on, so the noise, which it never saw, is left out. The noise level is not used.
- **Inpainting** (:func:`vae_inpaint`): latent inference under the mask. The encoder was
  trained on whole images and does not know which pixels are missing, so its guess is only a
  start: a Gaussian q(z) = N(m, diag(s^2)) is fitted to the *observed* pixels alone by
  maximising the masked ELBO

      L(m, s) = E_q[ sum over observed pixels of log p(x_i | z) ] - KL(q(z) || N(0, I))

  (the expected log prior plus the entropy of q, written in closed form as -KL), with
  reparameterised draws z = m + s * eps and Adam on (m, log s^2). m and log s^2 start from the
  encoder's answer on the image with its missing pixels filled with the mean of its observed
  pixels. This is amortised inference refined per image (stochastic variational inference
  with the decoder fixed); q approximates p(z | x_observed), so its spread is the model's
  uncertainty about what is missing. We chose it over the pseudo-Gibbs / Metropolis-within-
  Gibbs samplers of Rezende et al. (2014) and Mattei & Frellsen (2018), which also sample
  p(x_missing | x_observed) but need the encoder to behave on its own outputs and many
  iterations per image to mix; the fit is deterministic and easy to check (its objective is
  logged in :class:`LatentFit`).

  Then ``samples`` latents z_k ~ q are decoded; each decoded image keeps the observed pixels
  and takes the decoder's mean on the missing ones. The result is the per-pixel mean over the
  samples and their standard deviation (ddof 1), exactly 0 on observed pixels.

Sizes and colours. The networks work at ``model.image_size`` (square) with ``model.channels``
channels. Other inputs are resized to the model's size (bilinear, antialiased; non-square
images are stretched) for inference, and each decoded sample is resized back to the input's
size before the observed pixels are put back, so the user's known pixels are kept at full
resolution and only the missing ones come from the (lower-resolution) model. When shrinking a
masked image, a model pixel's value is the average of the *observed* input pixels it covers,
and its likelihood term is weighted by the fraction of it that is observed. A gray model runs
on each colour channel of an RGB image as a separate gray image; a colour model runs on a gray
image repeated to three channels and returns the mean of its channels (the convention of
:func:`pixelsmith.restoration.trained.match_channels`).

Randomness. Every draw comes from a ``torch.Generator`` seeded by ``seed`` on the CPU, so a
result is the same for the same seed on any device. One noise draw per step (and one set of
sample draws) is shared by all images of a batch, so an image's result does not depend on
which other images are in its batch, up to floating-point rounding.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch.nn import functional as F

from pixelsmith.degrade.known import Known
from pixelsmith.errors import PixelsmithError

DEFAULT_SAMPLES = 16
DEFAULT_STEPS = 300
DEFAULT_LR = 0.05
DEFAULT_DRAWS = 1  # reparameterised draws per Adam step (4 gained 0.1 dB at 3.4x the time)
PROBE_DRAWS = 8  # fixed draws that estimate the ELBO before and after the fit
BATCH = 64  # images fitted at once (the fit of one image does not depend on the others)
VAE_NETWORKS = ("conv-vae",)
#: ``progress(done, total)``: called after each fitting step and each decoded sample.
Progress = Callable[[int, int], None] | None


# -- likelihood of the observed pixels ---------------------------------------------------------

def pixel_log_likelihood(model: torch.nn.Module, params: torch.Tensor,
                         x: torch.Tensor) -> torch.Tensor:
    """log p(x_i | z) per pixel (same shape as ``x``), nats; ``params`` is ``model.decode(z)``.

    The per-pixel terms of :func:`pixelsmith.nets.autoencoder.log_likelihood`, which sums them.
    """
    if model.likelihood == "bernoulli":
        return -F.binary_cross_entropy_with_logits(params, x, reduction="none")
    log_scale = model.log_scale
    return (-0.5 * ((x - params) * torch.exp(-log_scale)) ** 2 - log_scale
            - 0.5 * math.log(2 * math.pi))


@torch.no_grad()
def observed_log_likelihood(model: torch.nn.Module, z: torch.Tensor, image: torch.Tensor,
                            observed: torch.Tensor) -> torch.Tensor:
    """sum_i observed_i * log p(x_i | z) per image, (N,) nats, at the model's size.

    ``observed`` is (N, 1, S, S) in [0, 1] (1 = known pixel; fractions weight the term).
    """
    params = model.decode(z)
    return (observed * pixel_log_likelihood(model, params, image)).flatten(1).sum(dim=1)


def _kl(mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    return 0.5 * (mu**2 + torch.exp(logvar) - 1.0 - logvar).sum(dim=1)


def masked_elbo(model: torch.nn.Module, image: torch.Tensor, observed: torch.Tensor,
                mu: torch.Tensor, logvar: torch.Tensor, eps: torch.Tensor) -> torch.Tensor:
    """Monte-Carlo masked ELBO per image, (N,) nats, with the draws ``eps`` (K, latent_dim)
    shared by every image: mean_k log p(x_obs | m + s eps_k) - KL(q || N(0, I))."""
    k, n = eps.shape[0], mu.shape[0]
    z = (mu[None] + torch.exp(0.5 * logvar)[None] * eps[:, None]).reshape(k * n, -1)
    x = image.repeat(k, 1, 1, 1)
    w = observed.repeat(k, 1, 1, 1)
    log_px = (w * pixel_log_likelihood(model, model.decode(z), x)).flatten(1).sum(dim=1)
    return log_px.view(k, n).mean(dim=0) - _kl(mu, logvar)


# -- model space: channels and size --------------------------------------------------------------

def _model_of(model: torch.nn.Module) -> tuple[int, int, torch.device]:
    if getattr(model, "likelihood", None) not in ("bernoulli", "gaussian") \
            or not hasattr(model, "encode"):
        raise PixelsmithError("VAE restoration needs a conv-vae model")
    device = next(model.parameters()).device
    return int(model.channels), int(model.image_size), device


def _resize(x: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    if tuple(x.shape[-2:]) == tuple(size):
        return x
    return F.interpolate(x, size=size, mode="bilinear", antialias=True, align_corners=False)


@dataclass
class _Space:
    """How (N, C, H, W) user images map to (M, Cm, S, S) model images and back."""

    channels: int  # the user's C
    model_channels: int
    size: tuple[int, int]  # the user's (H, W)
    model_size: int

    def to_model(self, x: torch.Tensor) -> torch.Tensor:
        """Channels converted (not resized): (M, Cm, H, W)."""
        if self.channels == self.model_channels:
            return x
        if self.model_channels == 1:
            return x.reshape(-1, 1, *x.shape[-2:])  # every colour channel its own gray image
        return x.expand(-1, self.model_channels, -1, -1)

    def mask_to_model(self, mask: torch.Tensor) -> torch.Tensor:
        """(N, 1, H, W) -> (M, 1, H, W)."""
        if self.channels != self.model_channels and self.model_channels == 1:
            return mask.repeat_interleave(self.channels, dim=0)
        return mask

    def back(self, x: torch.Tensor) -> torch.Tensor:
        """(M, Cm, S, S) model images -> (N, C, H, W) at the user's size, clamped to [0, 1]."""
        x = _resize(x, self.size).clamp(0.0, 1.0)
        if self.channels == self.model_channels:
            return x
        if self.model_channels == 1:
            return x.reshape(-1, self.channels, *x.shape[-2:])
        return x.mean(dim=1, keepdim=True)


def _space(model: torch.nn.Module, x: torch.Tensor) -> _Space:
    if x.ndim != 4 or x.shape[1] not in (1, 3):
        raise PixelsmithError(f"expected (N, 1|3, H, W) pixels, got {tuple(x.shape)}")
    channels, size, _ = _model_of(model)
    return _Space(int(x.shape[1]), channels, (int(x.shape[-2]), int(x.shape[-1])), size)


def _observed_to_model(x: torch.Tensor, observed: torch.Tensor, size: int
                       ) -> tuple[torch.Tensor, torch.Tensor]:
    """Resize (values, observed fraction) to size x size: a model pixel is the average of the
    observed pixels it covers, weighted by the fraction of it that is observed."""
    if tuple(x.shape[-2:]) == (size, size):
        return x, observed
    weight = _resize(observed, (size, size)).clamp(0.0, 1.0)
    values = _resize(x * observed, (size, size)) / weight.clamp_min(1e-6)
    values = torch.where(weight > 1e-6, values, torch.zeros_like(values)).clamp(0.0, 1.0)
    return values, weight


def _prefill(x: torch.Tensor, observed: torch.Tensor) -> torch.Tensor:
    """Missing pixels set to the mean of the image's observed pixels (per channel; 0.5 when
    nothing is observed): the encoder's input for the starting guess."""
    total = observed.expand_as(x).flatten(2).sum(dim=2)
    mean = (x * observed).flatten(2).sum(dim=2) / total.clamp_min(1e-6)
    mean = torch.where(total > 0, mean, torch.full_like(mean, 0.5))[..., None, None]
    return observed * x + (1 - observed) * mean


def _as_mask(mask: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """A mask as (N, 1, H, W) float on ``x``'s device, 1 = missing (values > 0.5)."""
    m = torch.as_tensor(mask).to(device=x.device)
    while m.ndim < 4:
        m = m[None]
    if m.shape[-2:] != x.shape[-2:]:
        raise PixelsmithError(f"mask is {m.shape[-1]}x{m.shape[-2]} but the image is "
                              f"{x.shape[-1]}x{x.shape[-2]}")
    if m.shape[0] not in (1, x.shape[0]):
        raise PixelsmithError(f"{m.shape[0]} masks for {x.shape[0]} images")
    m = (m > 0.5).any(dim=1, keepdim=True).to(x.dtype)
    return m.expand(x.shape[0], 1, *x.shape[-2:])


def _generator(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(int(seed))


# -- denoising -----------------------------------------------------------------------------------

@torch.no_grad()
def vae_denoise(model: torch.nn.Module, noisy: torch.Tensor) -> torch.Tensor:
    """Encode ``noisy`` (N, C, H, W) in [0, 1] (clamped), decode the posterior mean.

    Returns the decoder's mean image at z = mu(noisy), at the input's size and channels, on
    the input's device. The model's eval mode is assumed (``load_model`` sets it).
    """
    space = _space(model, noisy)
    _, size, device = _model_of(model)
    x = _resize(space.to_model(noisy.to(device).float().clamp(0.0, 1.0)), (size, size))
    mu, _ = model.encode(x.clamp(0.0, 1.0))
    return space.back(model.decode_mean(mu)).to(noisy.device)


@torch.no_grad()
def vae_denoise_with_std(model: torch.nn.Module, noisy: torch.Tensor,
                         samples: int = DEFAULT_SAMPLES, seed: int = 0,
                         progress: Progress = None) -> tuple[torch.Tensor, torch.Tensor]:
    """``samples`` draws z ~ q(z | noisy) from the encoder, decoded: their per-pixel (mean, std).

    The spread is the encoder's posterior uncertainty, not an error bar on the noise.
    """
    space = _space(model, noisy)
    _, size, device = _model_of(model)
    x = _resize(space.to_model(noisy.to(device).float().clamp(0.0, 1.0)), (size, size))
    mu, logvar = model.encode(x.clamp(0.0, 1.0))
    eps = torch.randn(_check_samples(samples), mu.shape[1], generator=_generator(seed))
    mean, std = _sample_stats(model, mu, logvar, eps.to(mu), space, None, None,
                              _offset(progress, 0, eps.shape[0]))
    return mean.to(noisy.device), std.to(noisy.device)


def _offset(progress: Progress, before: int, total: int) -> Progress:
    """``progress`` for a stage that starts after ``before`` of ``total`` steps."""
    if progress is None:
        return None
    return lambda done, _: progress(before + done, total)


# -- inpainting ----------------------------------------------------------------------------------

@dataclass
class LatentFit:
    """The fitted q(z) = N(mu, exp(logvar)) per image, (N, latent_dim) each, the encoder's
    starting guess, and the masked ELBO (nats, estimated with the same fixed draws) before
    and after the fit."""

    mu: torch.Tensor
    logvar: torch.Tensor
    initial_mu: torch.Tensor
    initial_logvar: torch.Tensor
    elbo_start: torch.Tensor
    elbo_end: torch.Tensor


def fit_masked_posterior(model: torch.nn.Module, image: torch.Tensor, observed: torch.Tensor,
                         *, steps: int = DEFAULT_STEPS, lr: float = DEFAULT_LR,
                         draws: int = DEFAULT_DRAWS, seed: int = 0,
                         progress: Progress = None) -> LatentFit:
    """Fit q(z) to the observed pixels of model-size images by maximising the masked ELBO.

    ``image`` is (N, Cm, S, S) in [0, 1] and ``observed`` (N, 1, S, S) in [0, 1] (1 = known;
    fractions weight a pixel's term), both at the model's channels and size and on its
    device. Adam on (mu, logvar) for ``steps`` steps from the encoder's guess on the image
    prefilled with its observed mean, learning rate ``lr`` with a cosine decay to 0, ``draws``
    reparameterised draws per step (module notes). The decoder is not changed. Works inside
    ``torch.inference_mode()`` too (it leaves it for the fit). ``progress(step, steps)`` is
    called after each step.
    """
    if steps < 0 or draws < 1:
        raise PixelsmithError(f"steps must be >= 0 and draws >= 1, not {steps} and {draws}")
    generator = _generator(seed)
    with torch.inference_mode(False), torch.enable_grad():
        x = image.detach().clone().float()
        w = observed.detach().clone().to(x)
        with torch.no_grad():
            mu0, logvar0 = (t.detach().clone() for t in model.encode(_prefill(x, w)))
        latent = mu0.shape[1]
        probe = torch.randn(PROBE_DRAWS, latent, generator=generator).to(x)
        mu = mu0.clone().requires_grad_(True)
        logvar = logvar0.clone().requires_grad_(True)
        with torch.no_grad():
            start = masked_elbo(model, x, w, mu, logvar, probe)
        optimizer = torch.optim.Adam([mu, logvar], lr=lr)
        for step in range(steps):
            for group in optimizer.param_groups:
                group["lr"] = lr * 0.5 * (1.0 + math.cos(math.pi * step / steps))
            eps = torch.randn(draws, latent, generator=generator).to(x)
            loss = -masked_elbo(model, x, w, mu, logvar, eps).sum()
            mu.grad, logvar.grad = torch.autograd.grad(loss, [mu, logvar])
            optimizer.step()
            with torch.no_grad():
                logvar.clamp_(-16.0, 4.0)
            if progress is not None:
                progress(step + 1, steps)
        with torch.no_grad():
            end = masked_elbo(model, x, w, mu, logvar, probe)
    return LatentFit(mu.detach(), logvar.detach(), mu0, logvar0, start, end)


def vae_inpaint(model: torch.nn.Module, image: torch.Tensor, mask: torch.Tensor,
                samples: int = DEFAULT_SAMPLES, steps: int = DEFAULT_STEPS, seed: int = 0, *,
                lr: float = DEFAULT_LR, draws: int = DEFAULT_DRAWS,
                batch_size: int = BATCH, progress: Progress = None
                ) -> tuple[torch.Tensor, torch.Tensor]:
    """Fill the pixels where ``mask`` is 1 from a VAE's posterior: returns (mean, std).

    ``image`` is (N, C, H, W) in [0, 1] (its missing pixels are ignored), ``mask`` (N or 1,
    1, H, W) or (H, W) with 1 = missing. q(z) is fitted to the observed pixels
    (:func:`fit_masked_posterior`; ``steps``, ``lr``, ``draws``), then ``samples`` latents
    are drawn from it and decoded; each sample keeps the observed pixels. ``mean`` and
    ``std`` (ddof 1; 0 for one sample) are per pixel over the samples, at the input's size,
    channels and device; ``std`` is exactly 0 on observed pixels. Same ``seed``, same result.
    Images are fitted ``batch_size`` at a time. Any input size (module notes).
    ``progress(done, total)`` counts the fitting steps of every batch, then the samples.
    """
    samples = _check_samples(samples)
    space = _space(model, image)
    _, size, device = _model_of(model)
    x_full = image.to(device).float()
    missing = _as_mask(mask, x_full)
    x_model = space.to_model(x_full)
    observed = 1.0 - space.mask_to_model(missing)
    values, weight = _observed_to_model(x_model, observed, size)
    starts = range(0, values.shape[0], batch_size)
    total = len(starts) * steps + samples
    fits = [fit_masked_posterior(model, values[i:i + batch_size], weight[i:i + batch_size],
                                 steps=steps, lr=lr, draws=draws, seed=seed,
                                 progress=_offset(progress, b * steps, total))
            for b, i in enumerate(starts)]
    mu = torch.cat([f.mu for f in fits])
    logvar = torch.cat([f.logvar for f in fits])
    eps = torch.randn(samples, mu.shape[1], generator=_generator(seed ^ 0x5A3D1E)).to(mu)
    mean, std = _sample_stats(model, mu, logvar, eps, space, x_full, missing,
                              _offset(progress, len(starts) * steps, total))
    return mean.to(image.device), std.to(image.device)


@torch.no_grad()
def _sample_stats(model, mu, logvar, eps, space: _Space, x_full, missing,
                  progress: Progress = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Decode z_k = mu + s eps_k one k at a time, back to the user's space, keep the observed
    pixels (when ``missing`` is given): running per-pixel mean and std (Welford)."""
    mean = m2 = None
    scale = torch.exp(0.5 * logvar)
    for k in range(eps.shape[0]):
        sample = space.back(model.decode_mean(mu + scale * eps[k]))
        if missing is not None:
            sample = torch.where(missing.bool(), sample, x_full)
        if mean is None:
            mean, m2 = sample.clone(), torch.zeros_like(sample)
        else:
            delta = sample - mean
            mean += delta / (k + 1)
            m2 += delta * (sample - mean)
        if progress is not None:
            progress(k + 1, eps.shape[0])
    count = eps.shape[0]
    std = (m2 / max(count - 1, 1)).clamp_min(0.0).sqrt()
    if missing is not None:
        std = std * missing
    return mean, std


def _check_samples(samples: int) -> int:
    if int(samples) != samples or samples < 1:
        raise PixelsmithError(f"samples must be a whole number >= 1, not {samples}")
    return int(samples)


# -- the restore contract --------------------------------------------------------------------------

def is_vae_config(config: dict) -> bool:
    """Whether a model's ``config.json`` describes a network this module restores with."""
    return config.get("network", {}).get("name") in VAE_NETWORKS


class VAERestorer:
    """A VAE as a restore method ``fn(y, known) -> x_hat`` for ``task`` denoise or inpaint.

    ``samples`` (None: :data:`DEFAULT_SAMPLES` for inpainting, the posterior-mean decoding for
    denoising) and ``seed`` / ``steps`` may be set on the instance; :meth:`with_std` also
    returns the per-pixel standard deviation. It runs on the whole image on
    ``options.device``; tiling and bf16 do not apply (the image is resized to the model).
    """

    def __init__(self, net: torch.nn.Module, task: str, options=None) -> None:
        from pixelsmith.restoration.trained import RunOptions

        if task not in ("denoise", "inpaint"):
            raise PixelsmithError(f"a VAE restores with --task denoise or inpaint, not '{task}'")
        _model_of(net)
        self.net, self.task = net, task
        self.channels = int(net.channels)
        self.samples: int | None = None
        self.seed = 0
        self.steps = DEFAULT_STEPS
        self.configure(options or RunOptions())

    backend = "torch"  # the fitting steps backpropagate through the decoder: no ONNX graph

    def configure(self, options) -> None:
        """Check ``options`` and move the network to their device; it runs in fp32 whatever
        precision they ask (its fitting steps need it), so ``options.precision`` says fp32."""
        from dataclasses import replace

        if options.backend == "onnxruntime":
            raise PixelsmithError("a VAE method runs in torch only (its restoration fits the "
                                  "latent by backpropagation): use --backend torch or auto")
        self.options = replace(options.checked(), precision="fp32")
        self.net.to(self.options.device).eval()

    def with_std(self, y: torch.Tensor, known: Known, progress: Progress = None
                 ) -> tuple[torch.Tensor, torch.Tensor]:
        """(mean, per-pixel std) over ``samples`` posterior samples, on ``y``'s device;
        ``progress(done, total)`` per fitting step and per sample."""
        samples = self.samples or DEFAULT_SAMPLES
        x = y.to(self.options.device)
        if self.task == "inpaint":
            if known.mask is None:
                raise PixelsmithError("VAE inpainting needs a mask (--mask)")
            mean, std = vae_inpaint(self.net, x, known.mask, samples=samples, steps=self.steps,
                                    seed=self.seed, progress=progress)
        else:
            mean, std = vae_denoise_with_std(self.net, x, samples=samples, seed=self.seed,
                                             progress=progress)
        return mean.to(y.device), std.to(y.device)

    def __call__(self, y: torch.Tensor, known: Known, progress: Progress = None
                 ) -> torch.Tensor:
        if self.task == "denoise" and self.samples is None:
            out = vae_denoise(self.net, y.to(self.options.device)).to(y.device)
            if progress is not None:
                progress(1, 1)
            return out
        return self.with_std(y, known, progress)[0]


def _load(source: str, task: str) -> VAERestorer:
    from pixelsmith.zoo import load_model

    return VAERestorer(load_model(source), task)


def load_vae_denoiser(source: str) -> VAERestorer:
    """A shipped VAE name or model folder as a denoising method."""
    return _load(source, "denoise")


def load_vae_inpainter(source: str) -> VAERestorer:
    """A shipped VAE name or model folder as an inpainting method."""
    return _load(source, "inpaint")
