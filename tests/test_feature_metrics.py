"""Feature-space sample quality: FID against the Gaussian closed form, KID's unbiasedness,
k-NN precision/recall on clear-cut sets, the feature classifier and its training family, and
the shipped extractors on real held-out images."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import data_or_skip
from PIL import Image as PILImage

from pixelsmith.data.standard import CIFAR10_CLASSES, face_label, parse_utkface
from pixelsmith.metrics.features import (
    EXTRACTORS,
    class_coverage,
    extract_features,
    feature_scores,
    frechet_distance,
    frechet_from_statistics,
    kernel_distance,
    load_extractor,
    precision_recall,
    sample_quality,
)
from pixelsmith.nets import build_network
from pixelsmith.nets.classifier import FeatureClassifier
from pixelsmith.train.config import recipe_from_dict
from pixelsmith.train.trainer import Trainer
from pixelsmith.zoo import load_model, shipped_models

pytestmark = pytest.mark.usefixtures("one_thread")


def gaussian(n: int, mean, std, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return np.asarray(mean) + rng.standard_normal((n, len(mean))) * np.asarray(std)


# -- FID ------------------------------------------------------------------------------------------

def test_frechet_of_diagonal_gaussians_equals_the_closed_form():
    mu1, mu2 = np.array([0.0, 1.0, -2.0]), np.array([0.5, 1.0, 1.0])
    var1, var2 = np.array([1.0, 4.0, 0.25]), np.array([2.0, 1.0, 0.25])
    closed = ((mu1 - mu2) ** 2).sum() + (var1 + var2 - 2 * np.sqrt(var1 * var2)).sum()
    assert frechet_from_statistics(mu1, np.diag(var1), mu2, np.diag(var2)) == pytest.approx(
        closed, rel=1e-10)
    # from samples: the sample statistics converge to the closed form
    a = gaussian(20_000, mu1, np.sqrt(var1), 0)
    b = gaussian(20_000, mu2, np.sqrt(var2), 1)
    assert frechet_distance(a, b) == pytest.approx(closed, rel=0.02)


def test_frechet_of_full_covariances_against_a_symmetric_formula():
    """tr((S1 S2)^(1/2)) = sum of sqrt(eigenvalues of S1^(1/2) S2 S1^(1/2)), a symmetric
    matrix: computed with eigh, independently of scipy's sqrtm."""
    rng = np.random.default_rng(0)
    m1, m2 = rng.standard_normal((5, 5)), rng.standard_normal((5, 5))
    s1, s2 = m1 @ m1.T + 0.1 * np.eye(5), m2 @ m2.T + 0.1 * np.eye(5)
    mu1, mu2 = rng.standard_normal(5), rng.standard_normal(5)
    w, v = np.linalg.eigh(s1)
    root1 = v @ np.diag(np.sqrt(w)) @ v.T
    cross = np.sqrt(np.clip(np.linalg.eigvalsh(root1 @ s2 @ root1), 0, None)).sum()
    closed = ((mu1 - mu2) ** 2).sum() + np.trace(s1) + np.trace(s2) - 2 * cross
    assert frechet_from_statistics(mu1, s1, mu2, s2) == pytest.approx(closed, rel=1e-9)


def test_frechet_of_a_set_with_itself_is_zero():
    a = gaussian(500, np.zeros(16), np.linspace(0.5, 2, 16), 0)
    assert abs(frechet_distance(a, a)) < 1e-6
    assert abs(frechet_distance(torch.from_numpy(a).float(), torch.from_numpy(a).float())) < 1e-4


def test_frechet_with_fewer_samples_than_dimensions_stays_real():
    a, b = gaussian(8, np.zeros(20), np.ones(20), 0), gaussian(8, np.ones(20), np.ones(20), 1)
    value = frechet_distance(a, b)
    assert math.isfinite(value) and value > 0


def test_feature_sets_must_match():
    with pytest.raises(ValueError, match="feature sizes differ"):
        frechet_distance(np.zeros((5, 3)), np.zeros((5, 4)))
    with pytest.raises(ValueError, match="NaN"):
        frechet_distance(np.full((5, 3), np.nan), np.zeros((5, 3)))


# -- KID ------------------------------------------------------------------------------------------

def test_kid_is_unbiased_for_one_distribution_and_positive_when_shifted():
    std = np.ones(8)
    a, b = gaussian(1000, np.zeros(8), std, 0), gaussian(1000, np.zeros(8), std, 1)
    same, same_std = kernel_distance(a, b, subsets=10, subset_size=400, seed=0)
    shifted, shifted_std = kernel_distance(a, gaussian(1000, np.full(8, 0.5), std, 2),
                                           subsets=10, subset_size=400, seed=0)
    assert abs(same) < 3 * same_std + 1e-3
    assert shifted > 0.05 and shifted > 10 * shifted_std
    assert kernel_distance(a, b, subsets=5, subset_size=100, seed=3) == \
        kernel_distance(a, b, subsets=5, subset_size=100, seed=3)


def test_kid_of_tiny_sets_uses_them_whole():
    a = gaussian(6, np.zeros(2), np.ones(2), 0)
    mean, std = kernel_distance(a, a + 3.0, subsets=4, subset_size=1000)
    assert mean > 0 and std == pytest.approx(0.0, abs=1e-9)  # every subset is the whole set


# -- precision / recall, coverage -----------------------------------------------------------------

def test_precision_recall_of_identical_and_of_far_apart_sets():
    a = gaussian(300, np.zeros(4), np.ones(4), 0)
    assert precision_recall(a, a.copy(), k=3) == (1.0, 1.0)
    assert precision_recall(a, a + 100.0, k=3) == (0.0, 0.0)


def test_precision_recall_of_a_collapsed_generator():
    """Fakes on one part of the real distribution: precise but not diverse."""
    real = gaussian(1000, np.zeros(2), np.ones(2), 0)
    fake = gaussian(1000, np.zeros(2), np.full(2, 0.2), 1)
    precision, recall = precision_recall(real, fake, k=3)
    assert precision > 0.95 and recall < 0.3


def test_class_coverage():
    assert class_coverage([0, 1, 2, 3], 4) == {"coverage": 1.0, "entropy": pytest.approx(1.0)}
    assert class_coverage(torch.tensor([2, 2, 2]), 4) == {"coverage": 0.25, "entropy": 0.0}
    with pytest.raises(ValueError):
        class_coverage([4], 4)


# -- the classifier -------------------------------------------------------------------------------

@pytest.mark.parametrize("channels,size", [(1, 28), (3, 32), (3, 64)])
def test_classifier_shapes(channels, size):
    net = build_network("feature-classifier", {"channels": channels, "image_size": size,
                                               "num_classes": 7, "width": 4})
    assert isinstance(net, FeatureClassifier) and net.feature_dim == 16
    x = torch.rand(1, channels, size, size)
    assert net(x).shape == (1, 7) and net.features(x).shape == (1, 16)
    net.eval()
    feats, labels = extract_features(torch.rand(5, channels, size, size), net, batch_size=2)
    assert feats.shape == (5, 16) and labels.shape == (5,) and feats.dtype == torch.float32
    assert not net.training
    with pytest.raises(Exception, match="embeds"):
        extract_features(torch.rand(2, channels, size + 2, size + 2), net)


def test_sample_quality_end_to_end_on_a_random_extractor():
    torch.manual_seed(0)
    net = FeatureClassifier(3, 32, num_classes=10, width=4).train()
    real = torch.rand(40, 3, 32, 32)
    same = sample_quality(real, real, net, batch_size=16, kid_subsets=3, kid_subset_size=20)
    assert net.training  # mode restored
    assert abs(same["fid"]) < 1e-4 and same["precision"] == same["recall"] == 1.0
    assert same["n_real"] == same["n_fake"] == 40 and 0 < same["coverage"] <= 1
    far = sample_quality(real, [torch.zeros(20, 3, 32, 32), torch.ones(20, 3, 32, 32)], net,
                         kid_subsets=3, kid_subset_size=20)
    assert far["fid"] > 0 and far["kid"] > 0 and far["precision"] < 0.5
    assert set(feature_scores(np.ones((5, 2)) * np.arange(5)[:, None],
                              np.zeros((5, 2)) + np.arange(5)[:, None], kid_subsets=2)) == \
        {"fid", "kid", "kid_std", "precision", "recall"}


def test_gender_age_labels():
    assert face_label(parse_utkface("25_1_0_20170116.jpg"), "gender_age") == 6
    assert face_label(parse_utkface("14_0_2_20170116.jpg"), "gender_age") == 0
    assert face_label(parse_utkface("60_0_2_20170116.jpg"), "gender_age") == 4
    assert face_label(parse_utkface("101_1_2_20170116.jpg"), "gender_age") == 9
    assert face_label(parse_utkface("portrait.jpg"), "gender_age") == -1
    assert face_label(parse_utkface("25_1_0_20170116.jpg"), "age") == 25


# -- the classifier family ------------------------------------------------------------------------

@pytest.fixture
def tiny_cifar(tmp_path) -> Path:
    """Two random 32x32 PNGs per CIFAR-10 class folder."""
    rng = np.random.default_rng(0)
    for name in CIFAR10_CLASSES:
        (tmp_path / "cifar" / name).mkdir(parents=True)
        for i in range(2):
            pixels = (rng.random((32, 32, 3)) * 255).astype(np.uint8)
            PILImage.fromarray(pixels).save(tmp_path / "cifar" / name / f"{i}.png")
    return tmp_path / "cifar"


def tiny_recipe(folder: Path, output: Path) -> dict:
    return {
        "name": "tiny-classifier", "family": "classifier",
        "model": {"name": "feature-classifier",
                  "args": {"channels": 3, "image_size": 32, "num_classes": 10, "width": 4}},
        "data": {"train": str(folder), "kind": "cifar10", "val_fraction": 0.25},
        "loss": {"name": "cross_entropy", "args": {"flip": True, "translate": 0.125}},
        "val": {"every": 1000, "metric": "accuracy"},
        "train": {"batch_size": 4, "steps": 2, "seed": 0, "log_every": 1,
                  "checkpoint_every": 1000},
        "output": str(output),
    }


def test_classifier_step_changes_the_weights_and_exports(tmp_path, tiny_cifar):
    from pixelsmith.train.export import export_run

    trainer = Trainer(recipe_from_dict(tiny_recipe(tiny_cifar, tmp_path / "run")),
                      progress=False, max_steps=1)
    net = trainer.models["model"]
    before = {k: v.detach().clone() for k, v in net.named_parameters()}
    assert trainer.family.higher_is_better
    trainer.fit()
    assert all(not torch.equal(before[k], v) for k, v in net.named_parameters())
    records = [json.loads(line) for line in (tmp_path / "run" / "metrics.jsonl").open()]
    val = next(r for r in records if r["kind"] == "val")
    assert 0.0 <= val["accuracy"] <= 1.0 and math.isfinite(val["loss"])
    model = load_model(export_run(tmp_path / "run", tmp_path / "model"))
    assert model.pixelsmith_config["task"] == "features"
    assert load_extractor(tmp_path / "model").feature_dim == 16


def test_classifier_family_refuses_unlabelled_folders(tmp_path, tiny_cifar):
    from pixelsmith.errors import PixelsmithError

    data = tiny_recipe(tiny_cifar, tmp_path / "run")
    data["data"]["kind"] = "folder"
    with pytest.raises(PixelsmithError, match="labelled"):
        Trainer(recipe_from_dict(data), progress=False)


# -- the shipped extractors on real held-out images -----------------------------------------------

FLOORS = {"features-mnist": 0.9, "features-cifar10": 0.35, "features-faces": 0.25}


@pytest.mark.parametrize("name", sorted(EXTRACTORS.values()))
def test_shipped_extractor_beats_chance_on_held_out_images(name):
    from pixelsmith.train.families import build_family

    if name not in shipped_models():
        pytest.skip(f"{name} is not shipped")
    model = load_extractor(name)
    recipe = recipe_from_dict(model.pixelsmith_config["training"]["recipe"])
    recipe.data.cache = False  # read only the 200 images used, not the whole set
    assert model.pixelsmith_config["task"] == "features" and model.feature_dim == 128
    data_or_skip(recipe.data.train)
    if recipe.data.kind == "mnist":  # the t10k digits, never seen in training
        from pixelsmith.data import MNIST

        test = MNIST(data_or_skip(recipe.data.train), train=False)
        items = [test[i] for i in range(200)]
    else:  # the recipe's seeded held-out split
        family = build_family(recipe, torch.device("cpu"))
        family.prepare_models({"model": model})
        family.train_dataset()
        items = [(item["image"], item["label"]) for item in map(family.val_set.__getitem__,
                                                                 range(200))]
    images = torch.stack([image for image, _ in items])
    labels = torch.tensor([label for _, label in items])
    _, predicted = extract_features(images, model)
    assert float((predicted == labels).float().mean()) > FLOORS[name]


def test_load_extractor_refuses_a_package_that_is_not_a_feature_classifier():
    from pixelsmith.errors import PixelsmithError
    from pixelsmith.metrics.features import load_extractor

    with pytest.raises(PixelsmithError, match="not a feature extractor"):
        load_extractor("denoise-gray")
