"""The ``classifier`` family: an image classifier trained with cross-entropy on class labels.

Its purpose is a feature extractor for :mod:`pixelsmith.metrics.features` (FID, KID,
precision/recall of generated images): the network (``feature-classifier``) is trained on the
same images a VAE or GAN learns, and its penultimate embeddings become the feature space.

Data come from :func:`~pixelsmith.train.families.synthesis.synthesis_datasets`, like the VAE and GAN
families: whole images of the model's size, validated on the seeded held-out split of
``data.train`` (CIFAR-10: 9,000 training / 1,000 held-out images). The data must carry labels:
``mnist``, ``fashion-mnist`` and ``cifar10`` their classes, ``faces`` the UTKFace label named
by ``face_label``. A plain ``folder`` (or ``val.data``) has none and is refused.

``loss.args`` (unknown keys are an error):

- ``label_smoothing`` (0.0): as in :func:`torch.nn.functional.cross_entropy`.
- ``flip`` (false): mirror each training image left-right with probability 1/2 (CIFAR-10 and
  faces; not digits, whose mirror images are not digits).
- ``translate`` (0.0): shift each training image by up to this fraction of its side,
  filling with zeros (0.125 on 32x32 is the usual 4-pixel pad-and-crop).
- ``face_label`` ("gender_age"): the UTKFace label for ``data.kind: faces``, one of
  :data:`pixelsmith.data.standard.FACE_LABELS`; ``gender_age`` is gender x 5 age groups
  (0-14, 15-29, 30-44, 45-59, 60+), 10 classes.

Validation: ``accuracy`` (fraction of held-out images classified right; higher is better)
or ``loss`` (their mean cross-entropy). Augmentation draws come from
:func:`~pixelsmith.train.families.base.step_generator`, so runs are reproducible and resume
exactly. Exported models carry the task ``features``.
"""

from __future__ import annotations

import torch
from pydantic import Field
from torch.nn import functional as F

from pixelsmith.data.images import SynthesisItems
from pixelsmith.errors import PixelsmithError
from pixelsmith.train.augment import augment_translation, random_flip
from pixelsmith.train.config import Recipe
from pixelsmith.train.families.base import evaluating, step_generator
from pixelsmith.train.families.synthesis import VAL_BATCH, SynthesisFamily
from pixelsmith.train.loss_args import LossArgs, flag


class ClassifierArgs(LossArgs):
    """``loss.args`` of the classifier family."""

    label_smoothing: float = Field(0.0, ge=0, lt=1, strict=True, description="in [0, 1)")
    flip: bool = flag()
    translate: float = Field(0.0, ge=0, lt=0.5, strict=True, description="in [0, 0.5)")
    face_label: str = Field("gender_age", strict=True, description="a face label name")


class ClassifierFamily(SynthesisFamily):
    """Cross-entropy training of ``recipe.model`` (a network with ``forward(x) -> logits``,
    ``channels``, ``image_size`` and ``num_classes``) on labelled whole images."""

    task = "features"
    loss_names = ("cross_entropy",)
    loss_args = ClassifierArgs
    metrics = ("accuracy", "loss")

    def __init__(self, recipe: Recipe, device: torch.device) -> None:
        from pixelsmith.data.standard import FACE_LABELS

        super().__init__(recipe, device)
        if recipe.data.kind == "folder" or recipe.val.data is not None:
            raise PixelsmithError("the classifier family needs labelled images: data.kind "
                                  "mnist, fashion-mnist, cifar10 or faces, and no val.data")
        if self.args.face_label not in FACE_LABELS:
            raise PixelsmithError(f"loss.args.face_label must be one of "
                                  f"{', '.join(FACE_LABELS)}, not '{self.args.face_label}'")
        self._val_labels: torch.Tensor | None = None

    def train_dataset(self) -> SynthesisItems:
        from pixelsmith.data import FaceFolder

        train = super().train_dataset()
        if isinstance(train.base, FaceFolder):  # shared by the training and validation items
            train.base.label = self.args.face_label
        return train

    def validation_data(self) -> tuple[torch.Tensor, torch.Tensor]:
        """The validation images (N, C, S, S) and labels (N,) on the device (read once)."""
        if self._val_labels is None:
            if self.val_set is None or not len(self.val_set):
                raise PixelsmithError("no validation images: set data.val_fraction")
            items = [self.val_set[i] for i in range(len(self.val_set))]
            self._val_images = torch.stack([item["image"] for item in items]).to(self.device)
            self._val_labels = torch.tensor([item["label"] for item in items],
                                            device=self.device)
        return self._val_images, self._val_labels

    def validation_images(self) -> torch.Tensor:
        return self.validation_data()[0]

    def augment(self, x: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        if self.args.flip:
            x = random_flip(x, generator)
        if float(self.args.translate) > 0:
            x = augment_translation(x, float(self.args.translate), generator)
        return x

    def _check_labels(self, labels: torch.Tensor, num_classes: int) -> None:
        if labels.numel() and (int(labels.max()) >= num_classes or int(labels.min()) < -1):
            raise PixelsmithError(f"labels {int(labels.min())}..{int(labels.max())} do not fit "
                                  f"a network of {num_classes} classes (model.args.num_classes)")

    def train_step(self, batch: dict, trainer) -> dict:
        x, labels = batch["image"], batch["label"]
        net = self.models[self.main]
        self._check_labels(labels, net.num_classes)
        x = self.augment(x, step_generator(trainer, x.device))
        with trainer.autocast():
            logits = trainer.wrapped[self.main](x)
        loss = F.cross_entropy(logits.float(), labels, ignore_index=-1,
                               label_smoothing=float(self.args.label_smoothing))
        trainer.optimize(loss, self.main)
        known = labels >= 0
        accuracy = (logits.detach().argmax(dim=1)[known] == labels[known]).float().mean()
        return {"loss": float(loss.detach()), "accuracy": float(accuracy)}

    @torch.no_grad()
    def validate(self, model: torch.nn.Module) -> dict:
        """Accuracy and mean cross-entropy on the held-out images with a known label."""
        images, labels = self.validation_data()
        known = labels >= 0
        images, labels = images[known], labels[known]
        if not len(labels):
            raise PixelsmithError("no validation image has a label")
        self._check_labels(labels, model.num_classes)
        with evaluating(model):
            logits = torch.cat([model(chunk).float() for chunk in images.split(VAL_BATCH)])
        return {"accuracy": float((logits.argmax(dim=1) == labels).float().mean()),
                "loss": float(F.cross_entropy(logits, labels))}
