"""Feature-space validation for the families that set ``val.extractor``: FID / KID /
precision / recall of generated or restored images against fixed reference images, in the
embedding of a pixelsmith feature classifier (:mod:`pixelsmith.metrics.features`)."""

from __future__ import annotations

import torch

from pixelsmith.errors import PixelsmithError


def check_fid_metric(val, example: str) -> None:
    """One-line error when ``val.metric`` is fid without ``val.extractor``."""
    if val.metric == "fid" and not val.extractor:
        raise PixelsmithError(f"val.metric fid needs val.extractor (a feature classifier, "
                              f"e.g. {example})")


class FeatureValidator:
    """Scores images against references that stay the same from one validation to the next:
    the extractor is loaded and the references embedded on the first call only."""

    def __init__(self, extractor: str, device: torch.device, seed: int = 0,
                 coverage: bool = False) -> None:
        self.name, self.device, self.seed, self.coverage = extractor, device, seed, coverage
        self._extractor: torch.nn.Module | None = None
        self._real: torch.Tensor | None = None

    def __call__(self, images: torch.Tensor, references: torch.Tensor) -> dict[str, float]:
        """``fid``, ``kid``, ``precision``, ``recall`` of ``images`` (in [0, 1]) against
        ``references``, plus the class ``coverage`` of ``images`` when asked and the extractor
        is a classifier."""
        from pixelsmith.metrics import features as fm

        if self._extractor is None:
            self._extractor = fm.load_extractor(self.name, device=self.device)
            self._real = fm.extract_features(references, self._extractor)[0]
        fake, labels = fm.extract_features(images, self._extractor)
        size = min(1000, len(fake), len(self._real))
        scores = fm.feature_scores(self._real, fake, seed=self.seed, kid_subset_size=size)
        out = {key: scores[key] for key in ("fid", "kid", "precision", "recall")}
        num_classes = getattr(self._extractor, "num_classes", None)
        if self.coverage and num_classes:
            out["coverage"] = fm.class_coverage(labels, num_classes)["coverage"]
        return out
