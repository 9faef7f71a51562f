"""Sample quality in a feature space: FID, KID, precision/recall and class coverage.

Generated images are judged by comparing the distribution of their embeddings with that of
real images. The embedding is the penultimate layer (global average pooled, 128-d) of a small
classifier trained by pixelsmith on the same kind of images (:class:`~pixelsmith.nets.
classifier.FeatureClassifier`, the ``classifier`` training family), shipped as
``features-mnist`` (1x28x28), ``features-cifar10`` (3x32x32) and ``features-faces``
(3x64x64). Inception-v3 features cannot be loaded offline, so **these numbers are comparable
only among models scored with the same extractor here, never with published (Inception)
FID/KID values**; docs/FEATURE_METRICS.md says how the extractors were trained.

- :func:`frechet_distance` (FID, Heusel et al. 2017): ``||mu_a - mu_b||^2 + tr(S_a + S_b -
  2 (S_a S_b)^(1/2))`` of Gaussians fitted to the two feature sets (sample covariance with
  N - 1, as pytorch-fid). The matrix square root is ``scipy.linalg.sqrtm``; if it is not
  finite or scipy warns that the product is singular (e.g. a feature that is always 0, or
  fewer features than dimensions), ``eps`` is added to both diagonals, and an imaginary part
  from round-off is dropped when it is small (otherwise a ValueError). FID is biased upwards
  for small sets: compare values computed from the same numbers of images.
- :func:`kernel_distance` (KID, Binkowski et al. 2018): the unbiased estimate of MMD^2 with
  the cubic polynomial kernel ``k(x, y) = (x.y / d + 1)^3``, averaged over ``subsets`` random
  subsets of ``subset_size`` features from each set (drawn without replacement by ``seed``);
  returns (mean, std over subsets). Sets no larger than ``subset_size`` are used whole, so
  every subset is the same and the std is 0. Unbiased: it can be slightly negative for two
  samples of one distribution.
- :func:`precision_recall` (Kynkaanniemi et al. 2019): each set's manifold is the union of
  balls around its points with radius the distance to the point's ``k``-th nearest neighbour
  in the same set; precision is the fraction of fake features inside the real manifold,
  recall the fraction of real features inside the fake manifold.
- :func:`class_coverage`: how the extractor's predicted classes of the fakes spread over the
  ``num_classes`` classes (fraction of classes hit, normalised entropy): mode collapse shows.

:func:`sample_quality` runs the whole chain on two image tensors; for repeated evaluations
against one real set, call :func:`extract_features` once and :func:`feature_scores` per model.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable
from pathlib import Path

import numpy as np
import torch

from pixelsmith.errors import PixelsmithError
from pixelsmith.nets.classifier import FeatureClassifier
from pixelsmith.zoo.config import config_of

#: The shipped extractors (zoo names) by the images they embed.
EXTRACTORS = {"mnist": "features-mnist", "cifar10": "features-cifar10",
              "faces": "features-faces"}

ArrayLike = np.ndarray | torch.Tensor


def _features(x: ArrayLike, what: str) -> np.ndarray:
    """A (N, D) float64 numpy copy of a feature matrix."""
    if isinstance(x, torch.Tensor):
        x = x.detach().cpu().double().numpy()
    x = np.asarray(x, dtype=np.float64)
    if x.ndim != 2:
        raise ValueError(f"{what}: expected an (N, D) feature matrix, got shape {x.shape}")
    if not np.isfinite(x).all():
        raise ValueError(f"{what}: features contain NaN or inf")
    return x


def _pair(a: ArrayLike, b: ArrayLike, least: int) -> tuple[np.ndarray, np.ndarray]:
    a, b = _features(a, "first set"), _features(b, "second set")
    if a.shape[1] != b.shape[1]:
        raise ValueError(f"feature sizes differ: {a.shape[1]} vs {b.shape[1]}")
    if min(len(a), len(b)) < least:
        raise ValueError(f"need at least {least} features per set, got {len(a)} and {len(b)}")
    return a, b


# -- distances between feature sets ---------------------------------------------------------------

def feature_statistics(feats: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    """(mean (D,), covariance (D, D)) of an (N, D) feature set, N - 1 in the denominator."""
    x = _features(feats, "features")
    if len(x) < 2:
        raise ValueError("need at least 2 features for a covariance")
    return x.mean(axis=0), np.cov(x, rowvar=False)


def frechet_from_statistics(mu_a: np.ndarray, cov_a: np.ndarray, mu_b: np.ndarray,
                            cov_b: np.ndarray, eps: float = 1e-6) -> float:
    """Frechet distance between N(mu_a, cov_a) and N(mu_b, cov_b)."""
    from scipy.linalg import sqrtm

    mu_a, mu_b = np.atleast_1d(mu_a), np.atleast_1d(mu_b)
    cov_a, cov_b = np.atleast_2d(cov_a), np.atleast_2d(cov_b)
    if mu_a.shape != mu_b.shape or cov_a.shape != cov_b.shape:
        raise ValueError("the two Gaussians differ in dimension")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        covmean = sqrtm(cov_a @ cov_b)
    if caught or not np.isfinite(covmean).all():  # singular: regularise both covariances
        offset = np.eye(len(cov_a)) * eps
        covmean = sqrtm((cov_a + offset) @ (cov_b + offset))
    if np.iscomplexobj(covmean):
        imaginary = float(np.abs(np.diagonal(covmean).imag).max())
        if imaginary > 1e-3:
            raise ValueError(f"matrix square root has an imaginary part of {imaginary:.3g}; "
                             "use more features than dimensions")
        covmean = covmean.real
    diff = mu_a - mu_b
    return float(diff @ diff + np.trace(cov_a) + np.trace(cov_b) - 2.0 * np.trace(covmean))


def frechet_distance(feats_a: ArrayLike, feats_b: ArrayLike, eps: float = 1e-6) -> float:
    """FID between two (N, D) feature sets (see the module notes)."""
    a, b = _pair(feats_a, feats_b, 2)
    return frechet_from_statistics(*feature_statistics(a), *feature_statistics(b), eps=eps)


def polynomial_mmd2(x: np.ndarray, y: np.ndarray) -> float:
    """Unbiased MMD^2 of two equal-sized feature sets with the kernel (x.y / d + 1)^3."""
    m, d = len(x), x.shape[1]
    def kernel(u: np.ndarray, v: np.ndarray) -> np.ndarray:
        k = u @ v.T / d + 1.0
        return k * k * k

    k_xx, k_yy, k_xy = kernel(x, x), kernel(y, y), kernel(x, y)
    within = (k_xx.sum() - np.trace(k_xx) + k_yy.sum() - np.trace(k_yy)) / (m * (m - 1))
    return float(within - 2.0 * k_xy.mean())


def kernel_distance(feats_a: ArrayLike, feats_b: ArrayLike, subsets: int = 100,
                    subset_size: int = 1000, seed: int = 0) -> tuple[float, float]:
    """KID: (mean, std) over ``subsets`` of the unbiased polynomial-kernel MMD^2 between
    random subsets of ``min(subset_size, N_a, N_b)`` features of each set (module notes)."""
    a, b = _pair(feats_a, feats_b, 2)
    if subsets < 1:
        raise ValueError(f"subsets must be >= 1, got {subsets}")
    m = min(int(subset_size), len(a), len(b))
    if m < 2:
        raise ValueError(f"subset_size must be >= 2, got {subset_size}")
    rng = np.random.default_rng(seed)
    values = np.array([polynomial_mmd2(a[rng.choice(len(a), m, replace=False)],
                                       b[rng.choice(len(b), m, replace=False)])
                       for _ in range(subsets)])
    return float(values.mean()), float(values.std())


def _squared_distances(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    sq = (x * x).sum(axis=1)[:, None] + (y * y).sum(axis=1)[None, :] - 2.0 * (x @ y.T)
    return np.maximum(sq, 0.0)


def knn_radii(feats: np.ndarray, k: int, batch: int = 1024) -> np.ndarray:
    """Squared distance of each feature to its ``k``-th nearest neighbour in the same set
    (the point itself not counted)."""
    radii = np.empty(len(feats))
    for start in range(0, len(feats), batch):
        sq = _squared_distances(feats[start:start + batch], feats)
        radii[start:start + batch] = np.partition(sq, k, axis=1)[:, k]  # index 0 is the point
    return radii


def _inside(points: np.ndarray, centres: np.ndarray, radii: np.ndarray,
            batch: int = 1024) -> np.ndarray:
    """For each point: does a ball (centre, squared radius) contain it?"""
    hit = np.empty(len(points), dtype=bool)
    for start in range(0, len(points), batch):
        sq = _squared_distances(points[start:start + batch], centres)
        hit[start:start + batch] = (sq <= radii[None, :]).any(axis=1)
    return hit


def precision_recall(real: ArrayLike, fake: ArrayLike, k: int = 3) -> tuple[float, float]:
    """(precision, recall) of k-NN manifolds (Kynkaanniemi et al. 2019; module notes)."""
    if k < 1:
        raise ValueError(f"k must be >= 1, got {k}")
    real, fake = _pair(real, fake, k + 1)
    precision = _inside(fake, real, knn_radii(real, k)).mean()
    recall = _inside(real, fake, knn_radii(fake, k)).mean()
    return float(precision), float(recall)


def class_coverage(predicted_labels: ArrayLike | list[int], num_classes: int) -> dict:
    """``coverage``: fraction of the ``num_classes`` classes predicted at least once;
    ``entropy``: entropy of the predicted-class histogram over log(num_classes), 1 when
    uniform, 0 when every sample falls in one class."""
    if isinstance(predicted_labels, torch.Tensor):
        predicted_labels = predicted_labels.detach().cpu().numpy()
    labels = np.asarray(predicted_labels, dtype=np.int64).ravel()
    if num_classes < 2:
        raise ValueError(f"num_classes must be >= 2, got {num_classes}")
    if not len(labels) or labels.min() < 0 or labels.max() >= num_classes:
        raise ValueError(f"need labels in 0..{num_classes - 1}")
    counts = np.bincount(labels, minlength=num_classes)
    share = counts[counts > 0] / len(labels)
    return {"coverage": float((counts > 0).mean()),
            "entropy": float(-(share * np.log(share)).sum() / np.log(num_classes))}


# -- extractors and images --------------------------------------------------------------------

def load_extractor(name: str | Path = "features-cifar10",
                   device: str | torch.device = "cpu") -> FeatureClassifier:
    """A shipped (``features-mnist``, ``features-cifar10``, ``features-faces``) or local
    feature classifier, in eval mode, checksum-verified (:func:`pixelsmith.zoo.load_model`)."""
    from pixelsmith.zoo import load_model

    model = load_model(name, device=device)
    if not isinstance(model, FeatureClassifier):
        raise PixelsmithError(f"'{name}' is not a feature extractor (a feature-classifier "
                              f"package), it holds a {type(model).__name__}")
    return model


def _batches(images: torch.Tensor | Iterable[torch.Tensor], batch_size: int):
    if isinstance(images, torch.Tensor):
        if images.ndim != 4:
            raise PixelsmithError(f"expected (N, C, H, W) images, got {tuple(images.shape)}")
        yield from images.split(batch_size)
    else:
        for chunk in images:
            yield from _batches(chunk, batch_size)


@torch.no_grad()
def extract_features(images: torch.Tensor | Iterable[torch.Tensor],
                     extractor: FeatureClassifier, batch_size: int = 250
                     ) -> tuple[torch.Tensor, torch.Tensor]:
    """(features (N, D) float32, predicted classes (N,) int64) on the CPU, for images in
    [0, 1] given as one (N, C, H, W) tensor or an iterable of such batches.

    The extractor runs in eval mode without gradients (its mode is restored after) on its own
    device; images must have its channels and size (a one-line error otherwise).
    """
    device = next(extractor.parameters()).device
    channels, size = extractor.channels, extractor.image_size
    was_training = extractor.training
    extractor.eval()
    feats, labels = [], []
    try:
        for batch in _batches(images, batch_size):
            if batch.shape[1] != channels or tuple(batch.shape[-2:]) != (size, size):
                raise PixelsmithError(
                    f"the extractor embeds {channels}x{size}x{size} images, got "
                    f"{'x'.join(map(str, batch.shape[1:]))}; resize them or pick the extractor "
                    "trained on such images")
            x = batch.to(device=device, dtype=torch.float32)
            f = extractor.features(x)
            logits = extractor.head(f)
            feats.append(f.float().cpu())
            labels.append(logits.argmax(dim=1).cpu())
    finally:
        extractor.train(was_training)
    if not feats:
        raise PixelsmithError("no images to embed")
    return torch.cat(feats), torch.cat(labels)


def feature_scores(real_feats: ArrayLike, fake_feats: ArrayLike, *, kid_subsets: int = 100,
                   kid_subset_size: int = 1000, k: int = 3, seed: int = 0) -> dict[str, float]:
    """``fid``, ``kid``, ``kid_std``, ``precision``, ``recall`` of two feature sets."""
    real, fake = _pair(real_feats, fake_feats, k + 1)
    kid, kid_std = kernel_distance(real, fake, kid_subsets, kid_subset_size, seed)
    precision, recall = precision_recall(real, fake, k)
    return {"fid": frechet_distance(real, fake), "kid": kid, "kid_std": kid_std,
            "precision": precision, "recall": recall}


def sample_quality(real_images: torch.Tensor | Iterable[torch.Tensor],
                   fake_images: torch.Tensor | Iterable[torch.Tensor],
                   extractor: FeatureClassifier | str | Path, batch_size: int = 250, *,
                   kid_subsets: int = 100, kid_subset_size: int = 1000, k: int = 3,
                   seed: int = 0) -> dict:
    """Feature-space quality of ``fake_images`` against ``real_images`` (both in [0, 1]).

    ``extractor`` is a feature classifier (or a name for :func:`load_extractor`).
    Returns :func:`feature_scores`' ``fid``, ``kid``, ``kid_std``, ``precision``,
    ``recall``, plus ``coverage`` and ``class_entropy`` of the fakes' predicted classes
    (:func:`class_coverage`), ``n_real``,
    ``n_fake`` and ``extractor`` (its name).
    """
    if isinstance(extractor, (str, Path)):
        extractor = load_extractor(extractor)
    real, _ = extract_features(real_images, extractor, batch_size)
    fake, fake_labels = extract_features(fake_images, extractor, batch_size)
    out: dict = feature_scores(real, fake, kid_subsets=kid_subsets,
                               kid_subset_size=kid_subset_size, k=k, seed=seed)
    spread = class_coverage(fake_labels, extractor.num_classes)
    out.update(coverage=spread["coverage"], class_entropy=spread["entropy"])
    out.update(n_real=len(real), n_fake=len(fake),
               extractor=config_of(extractor).display_name(extractor))
    return out
