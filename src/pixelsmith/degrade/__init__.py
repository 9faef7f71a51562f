"""Degradations: forward operators (blur, mask, downsample, JPEG) and noise models.

Operators work on batched NCHW float tensors in [0, 1] (float32 or float64) and draw random
values only from an explicit ``torch.Generator``, so ``degrade(x, *ops, seed=3)`` is
reproducible. Linear operators (:class:`Blur`, :class:`Mask`, :class:`Downsample`) have an
exact ``A_adjoint``. Importing this package loads only torch and numpy; scipy, Pillow and
h5py are imported where they are used.
"""

from __future__ import annotations

from pixelsmith.degrade.base import (
    Compose,
    LinearOperator,
    Operator,
    check_batch,
    degrade,
    make_generator,
)
from pixelsmith.degrade.blur import Blur
from pixelsmith.degrade.jpeg import JPEG
from pixelsmith.degrade.kernels import (
    disk_kernel,
    gaussian_kernel,
    load_kernel,
    motion_kernel,
)
from pixelsmith.degrade.mask import (
    Mask,
    box_mask,
    load_mask,
    random_pixel_mask,
    stroke_mask,
)
from pixelsmith.degrade.noise import (
    GaussianNoise,
    PoissonGaussianNoise,
    PoissonNoise,
    SaltPepperNoise,
)
from pixelsmith.degrade.parse import (
    parse_blur,
    parse_downsample,
    parse_jpeg,
    parse_mask,
    parse_noise,
)
from pixelsmith.degrade.realistic import RealisticDegradation
from pixelsmith.degrade.resize import Downsample, imresize, resize_matrix

__all__ = [
    "Blur",
    "Compose",
    "Downsample",
    "GaussianNoise",
    "JPEG",
    "LinearOperator",
    "Mask",
    "Operator",
    "PoissonGaussianNoise",
    "PoissonNoise",
    "RealisticDegradation",
    "SaltPepperNoise",
    "box_mask",
    "check_batch",
    "degrade",
    "disk_kernel",
    "gaussian_kernel",
    "imresize",
    "load_kernel",
    "load_mask",
    "make_generator",
    "motion_kernel",
    "parse_blur",
    "parse_downsample",
    "parse_jpeg",
    "parse_mask",
    "parse_noise",
    "random_pixel_mask",
    "resize_matrix",
    "stroke_mask",
]
