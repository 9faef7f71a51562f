"""The realistic degradation model: reproducible draws, saved draws that replay exactly, the
two orders, each component's defining property, the training hook and the CLI flag."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch
from PIL import Image as PILImage

from pixelsmith.cli.main import main
from pixelsmith.data import RandomPatches
from pixelsmith.degrade import gaussian_kernel
from pixelsmith.degrade.draws import DegradationSpec
from pixelsmith.degrade.realistic import (
    RealisticDegradation,
    realistic_case,
    replay,
)
from pixelsmith.degrade.realistic_kernels import bivariate_kernel, kernel_from_params, sinc_kernel
from pixelsmith.degrade.realistic_noise import (
    camera_noise,
    demosaic_bilinear,
    gaussian_noise,
    mosaic,
    poisson_noise,
    srgb_to_linear,
)
from pixelsmith.errors import PixelsmithError

pytestmark = pytest.mark.usefixtures("one_thread")
ORDERS = ("bsrgan", "realesrgan")


def _image(height: int = 48, width: int = 40, channels: int = 3, seed: int = 0) -> torch.Tensor:
    """A smooth random colour image with edges (JPEG and blur have something to change)."""
    gen = torch.Generator().manual_seed(seed)
    coarse = torch.rand(1, channels, height // 8 + 1, width // 8 + 1, generator=gen)
    smooth = torch.nn.functional.interpolate(coarse, size=(height, width), mode="bicubic",
                                             align_corners=False)
    return smooth.clamp(0, 1)


def _gen(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def _base(steps: list[dict], scale: int = 1) -> dict:
    return {"model": "pixelsmith-realistic", "version": 1, "scale": scale, "order": "test",
            "steps": steps}


# -- the model as a whole -------------------------------------------------------------------
@pytest.mark.parametrize("order", ORDERS + ("mixed",))
@pytest.mark.parametrize("scale", [1, 4])
def test_same_seed_same_output_different_seed_different(order, scale):
    model, x = RealisticDegradation(scale, order), _image()
    first, draws = model.apply_with_params(x, _gen(5))
    again, draws_again = model.apply_with_params(x, _gen(5))
    other, other_draws = model.apply_with_params(x, _gen(6))
    assert torch.equal(first, again) and draws == draws_again
    assert draws != other_draws and not torch.equal(first, other)


@pytest.mark.parametrize("order", ORDERS)
@pytest.mark.parametrize("scale, channels", [(1, 3), (4, 3), (1, 1), (4, 1)])
def test_output_size_range_and_8_bit_levels(order, scale, channels):
    x = _image(37, 50, channels)
    model = RealisticDegradation(scale, order)
    for seed in range(4):
        y = model(x, _gen(seed))
        assert y.shape == (1, channels, math.ceil(37 / scale), math.ceil(50 / scale))
        assert y.dtype == x.dtype and y.min() >= 0 and y.max() <= 1
        assert torch.equal(y * 255, torch.round(y * 255))


@pytest.mark.parametrize("order", ORDERS)
@pytest.mark.parametrize("scale", [1, 4])
def test_a_draw_saved_as_json_replays_exactly(order, scale):
    x = torch.cat([_image(seed=1), _image(seed=2)])
    y, draws = RealisticDegradation(scale, order).apply_with_params(x, _gen(11))
    assert len(draws) == 2 and draws[0] != draws[1]  # one draw per image of the batch
    for index, params in enumerate(draws):
        loaded = json.loads(json.dumps(params))
        assert loaded == params and loaded["order"] == order and loaded["scale"] == scale
        assert torch.equal(replay(x[index:index + 1], loaded), y[index:index + 1])


def test_replay_refuses_what_is_not_a_draw():
    with pytest.raises(ValueError, match="not a pixelsmith-realistic"):
        replay(_image(), {"steps": []})
    with pytest.raises(ValueError, match="1 or 3"):
        replay(torch.rand(1, 2, 8, 8), _base([]))


def test_bad_scale_or_order_is_refused():
    with pytest.raises(ValueError, match="scale"):
        RealisticDegradation(2)
    with pytest.raises(ValueError, match="order"):
        RealisticDegradation(1, "random")


def _ops(params: dict) -> list[str]:
    return [step["op"] for step in params["steps"]]


def test_bsrgan_order_is_shuffled_free_resize_first_jpeg_last():
    model, orders = RealisticDegradation(4, "bsrgan"), set()
    for seed in range(40):
        params = model.draw(_gen(seed))
        steps = params["steps"]
        if steps[0]["op"] == "resize" and steps[0]["factor"] == 0.5:
            steps = steps[1:]  # the optional first halving at scale 4
        ops = [step["op"] for step in steps]
        target = next(i for i, s in enumerate(steps)
                      if s["op"] == "resize" and s["relative_to"] == "target")
        free = [i for i, s in enumerate(steps) if s["op"] == "subsample"
                or (s["op"] == "resize" and s["relative_to"] == "current")]
        assert len(free) == 1 and free[0] < target
        assert ops[-1] == "jpeg" and ops.count("blur") >= 2
        orders.add(tuple(op for op in ops if op in ("blur", "gaussian_noise", "resize")))
    assert len(orders) > 10  # the order really is random


def test_realesrgan_order_is_two_stages_then_final_resize_and_sinc():
    model = RealisticDegradation(4, "realesrgan")
    endings = set()
    for seed in range(40):
        steps = model.draw(_gen(seed))["steps"]
        ops = [step["op"] for step in steps]
        assert ops[0] == "blur" and steps[1]["relative_to"] == "current"
        assert ops[2] in ("gaussian_noise", "poisson_noise") and ops[3] == "jpeg"
        assert ops.count("jpeg") == 2
        targets = [s for s in steps if s["op"] == "resize" and s["relative_to"] == "target"]
        assert len(targets) == 2 and targets[-1]["factor"] == 1.0
        endings.add(ops[-1])
    assert endings >= {"jpeg", "resize"} or endings >= {"jpeg", "blur"}


def test_mixed_order_uses_both():
    model = RealisticDegradation(1, "mixed")
    assert {model.draw(_gen(seed))["order"] for seed in range(20)} == set(ORDERS)


@pytest.mark.parametrize("scale", [1, 4])
def test_light_draws_are_a_slight_blur_weak_noise_and_one_good_jpeg(scale):
    model = RealisticDegradation(scale, light=1.0)
    x = torch.rand(1, 3, 64, 64)
    for seed in range(10):
        params = model.draw(_gen(seed))
        ops = _ops(params)
        assert params["order"] == "light" and ops[-1] == "jpeg" and ops.count("jpeg") == 1
        assert set(ops) <= {"blur", "resize", "gaussian_noise", "jpeg"}
        assert params["steps"][-1]["quality"] >= 60
        assert all(step["sigma"] <= 8.0 for step in params["steps"]
                   if step["op"] == "gaussian_noise")
        assert replay(x, params).shape[-1] == 64 // scale


def test_light_share_mixes_and_zero_keeps_the_draws():
    mixed = RealisticDegradation(1, light=0.5)
    orders = [mixed.draw(_gen(seed))["order"] for seed in range(40)]
    assert 5 < orders.count("light") < 35 and len(set(orders)) == 3
    # a light share of 0 spends no random number: the held-out sets drawn before stay the same
    assert [RealisticDegradation(1, light=0.0).draw(_gen(seed)) for seed in range(5)] == \
        [RealisticDegradation(1).draw(_gen(seed)) for seed in range(5)]
    for bad in (-0.1, 1.5, float("nan")):
        with pytest.raises(ValueError, match="light"):
            RealisticDegradation(1, light=bad)


@pytest.mark.parametrize("scale", [1, 4])
def test_shake_draws_start_with_a_camera_shake_kernel_that_replays_exactly(scale):
    model = RealisticDegradation(scale, light=0.3, shake=1.0)
    x = torch.rand(1, 3, 64, 64)
    for seed in range(6):
        params = model.draw(_gen(seed))
        first = params["steps"][0]
        assert first["op"] == "blur" and first["kernel"]["type"] == "motion"
        assert 5.0 <= first["kernel"]["length"] <= 25.0
        kernel = kernel_from_params(first["kernel"])
        assert kernel.shape == (25, 25) and abs(float(kernel.sum()) - 1.0) < 1e-5
        # a path, not a spot: the mass spreads over several pixels
        assert int((kernel > 1e-3).sum()) >= 5
        replayed = json.loads(json.dumps(params))
        assert torch.equal(replay(x, params), replay(x, replayed))
        assert replay(x, params).shape[-1] == 64 // scale


def test_shake_share_mixes_and_zero_keeps_the_draws():
    mixed = RealisticDegradation(1, shake=0.5)
    first = [mixed.draw(_gen(seed))["steps"][0].get("kernel", {}).get("type")
             for seed in range(40)]
    assert 5 < first.count("motion") < 35
    assert [RealisticDegradation(1, shake=0.0).draw(_gen(seed)) for seed in range(5)] == \
        [RealisticDegradation(1).draw(_gen(seed)) for seed in range(5)]
    assert "camera shake" in RealisticDegradation(1, shake=0.2).describe()
    for bad in (-0.1, 1.5, float("nan")):
        with pytest.raises(ValueError, match="shake"):
            RealisticDegradation(1, shake=bad)


# -- kernels --------------------------------------------------------------------------------
@pytest.mark.parametrize("params", [
    {"type": "gaussian", "size": 15, "sigma": [2.0, 2.0], "angle": 0.0},
    {"type": "gaussian", "size": 21, "sigma": [3.0, 0.5], "angle": 30.0},
    {"type": "generalized", "size": 13, "sigma": [1.5, 1.0], "angle": -50.0, "beta": 0.5},
    {"type": "generalized", "size": 13, "sigma": [1.5, 1.5], "angle": 0.0, "beta": 4.0},
    {"type": "plateau", "size": 17, "sigma": [1.0, 2.0], "angle": 120.0, "beta": 2.0},
    {"type": "gaussian", "size": 25, "sigma": [1.0, 1.0], "angle": 0.0, "shift": 1.5},
    {"type": "sinc", "size": 21, "cutoff": math.pi / 4},
])
def test_kernels_sum_to_one(params):
    kernel = kernel_from_params(params)
    assert kernel.shape == (params["size"],) * 2 and kernel.dtype == torch.float32
    assert abs(float(kernel.sum()) - 1) < 1e-5


def test_gaussian_kernel_matches_the_existing_one_and_beta_1_is_gaussian():
    ours = bivariate_kernel("gaussian", 21, (3.0, 1.2), angle=35.0)
    assert torch.allclose(ours, gaussian_kernel((3.0, 1.2), size=21, angle=35.0), atol=1e-7)
    generalized = bivariate_kernel("generalized", 21, (3.0, 1.2), angle=35.0, beta=1.0)
    assert torch.allclose(ours, generalized, atol=1e-7)


def test_plateau_has_heavier_tails_and_generalized_beta_shapes_the_top():
    gaussian = bivariate_kernel("gaussian", 21, (2.0, 2.0))
    plateau = bivariate_kernel("plateau", 21, (2.0, 2.0), beta=1.0)
    flat = bivariate_kernel("generalized", 21, (2.0, 2.0), beta=4.0)
    centre = 10
    assert plateau[centre, 0] > 100 * gaussian[centre, 0]  # far from the centre
    # a large beta flattens the top: the neighbour is nearly as high as the centre
    assert flat[centre, centre + 1] / flat[centre, centre] > 0.99
    assert gaussian[centre, centre + 1] / gaussian[centre, centre] < 0.9


def test_shifted_kernel_moves_its_centre_of_mass():
    kernel = bivariate_kernel("gaussian", 25, (1.0, 1.0), shift=1.5)
    rows = torch.arange(25, dtype=torch.float32)
    assert abs(float((kernel.sum(1) * rows).sum()) - (12 - 1.5)) < 1e-4
    assert abs(float((kernel.sum(0) * rows).sum()) - (12 - 1.5)) < 1e-4


def test_sinc_filter_is_a_low_pass_with_ringing():
    kernel = sinc_kernel(21, math.pi / 3)
    assert kernel.min() < 0  # negative lobes: ringing and overshoot on edges
    response = torch.fft.fft2(kernel.double(), s=(64, 64)).abs()
    assert abs(float(response[0, 0]) - 1) < 1e-6
    assert float(response[32, 0]) < 0.1 and float(response[0, 32]) < 0.1  # Nyquist removed
    step = torch.zeros(1, 1, 32, 32)
    step[..., 16:] = 1.0
    ringing = replay(step, _base([{"op": "blur", "kernel": {"type": "sinc", "size": 21,
                                                              "cutoff": math.pi / 3}}]))
    assert torch.equal(ringing, replay(step, _base([{"op": "blur", "kernel": {
        "type": "sinc", "size": 21, "cutoff": math.pi / 3}}])))
    unclipped = torch.nn.functional.conv2d(
        torch.nn.functional.pad(step, (10, 10, 10, 10), mode="reflect"), kernel[None, None])
    assert unclipped.max() > 1.02 and unclipped.min() < -0.02  # overshoot both sides


def test_kernel_params_are_checked():
    with pytest.raises(ValueError, match="odd"):
        sinc_kernel(20, 1.0)
    with pytest.raises(ValueError, match="cutoff"):
        sinc_kernel(21, 4.0)
    with pytest.raises(ValueError, match="sigmas"):
        bivariate_kernel("gaussian", 21, (0.0, 1.0))
    with pytest.raises(ValueError, match="unknown kernel type"):
        kernel_from_params({"type": "box", "size": 3})


# -- noise ----------------------------------------------------------------------------------
def test_poisson_noise_variance_grows_with_the_signal():
    variances = []
    for level in (0.1, 0.4, 0.8):
        x = torch.full((1, 3, 64, 64), level, dtype=torch.float64)
        noise = poisson_noise(x, 2.0, False, _gen(0)) - x
        variances.append(float(noise.var()))
        assert abs(variances[-1] / (4.0 * level / 255) - 1) < 0.1  # scale^2 x / 255
    assert variances[0] < variances[1] < variances[2]


def test_gray_noise_is_the_same_in_every_channel_and_colour_noise_is_not():
    x = torch.full((1, 3, 32, 32), 0.5)
    gray = gaussian_noise(x, 0.1, "gray", _gen(0)) - x
    colour = gaussian_noise(x, 0.1, "color", _gen(0)) - x
    assert torch.equal(gray[:, 0], gray[:, 1]) and torch.equal(gray[:, 0], gray[:, 2])
    assert not torch.allclose(colour[:, 0], colour[:, 1])
    gray_poisson = poisson_noise(x, 1.0, True, _gen(0)) - x
    assert torch.allclose(gray_poisson[:, 0], gray_poisson[:, 2])


def test_correlated_noise_has_the_asked_covariance():
    cov = [[0.010, 0.006, 0.0], [0.006, 0.010, 0.0], [0.0, 0.0, 0.002]]
    x = torch.zeros(1, 3, 128, 128, dtype=torch.float64)
    noise = gaussian_noise(x, 0.1, "correlated", _gen(0), cov)
    empirical = torch.cov(noise.reshape(3, -1))
    assert torch.allclose(empirical, torch.tensor(cov, dtype=torch.float64), atol=6e-4)


def _lag_correlation(noise: torch.Tensor) -> float:
    """Mean correlation of horizontally adjacent noise values, per channel, interior only."""
    inner = noise[..., 2:-2, 2:-2]
    left, right = inner[..., :-1].reshape(3, -1), inner[..., 1:].reshape(3, -1)
    return float(np.mean([np.corrcoef(a, b)[0, 1] for a, b in zip(left, right, strict=True)]))


def test_demosaicked_camera_noise_is_spatially_correlated_and_signal_dependent():
    x = torch.full((1, 3, 64, 64), 0.45, dtype=torch.float64)
    camera = camera_noise(x, 1e-3, 1e-6, 2.0, 1.7, "RGGB", _gen(0)) - x
    white = gaussian_noise(x, float(camera.std()), "color", _gen(0)) - x
    assert _lag_correlation(camera) > 0.3
    assert abs(_lag_correlation(white)) < 0.05
    # signal-dependent in linear light (variance shot * raw + read; after the sRGB curve the
    # std is nearly flat, as in camera JPEGs)
    variances = []
    for level in (0.2, 0.8):
        flat = torch.full_like(x, level)
        noisy = camera_noise(flat, 1e-3, 1e-6, 2.0, 1.7, "RGGB", _gen(0))
        variances.append(float((srgb_to_linear(noisy) - srgb_to_linear(flat)).var()))
    assert variances[1] > 4 * variances[0]


def test_mosaic_then_bilinear_demosaic_keeps_a_flat_image():
    x = torch.tensor([0.2, 0.5, 0.7], dtype=torch.float64).view(1, 3, 1, 1).expand(1, 3, 10, 12)
    for pattern in ("RGGB", "GRBG", "GBRG", "BGGR"):
        raw = mosaic(x, pattern)
        assert raw.shape == (1, 1, 10, 12)
        assert torch.allclose(demosaic_bilinear(raw, pattern), x)
    clean = camera_noise(x, 0.0, 0.0, 2.0, 1.7, "GBRG", _gen(0))
    assert torch.allclose(clean, x, atol=1e-6)


# -- JPEG and resizing ----------------------------------------------------------------------
def test_jpeg_twice_changes_the_image():
    x = _image(64, 64)
    once = replay(x, _base([{"op": "jpeg", "quality": 40}]))
    twice = replay(x, _base([{"op": "jpeg", "quality": 40}, {"op": "jpeg", "quality": 75}]))
    assert not torch.equal(once, twice)
    assert float((once - x).abs().mean()) > 0


@pytest.mark.parametrize("mode", ["area", "bilinear", "bicubic"])
def test_resize_steps_go_to_the_sizes_they_name(mode):
    x = _image(40, 32)
    steps = [{"op": "resize", "relative_to": "current", "factor": 0.5, "mode": mode},
             {"op": "resize", "relative_to": "target", "factor": 1.0, "mode": mode}]
    assert replay(x, _base(steps, scale=4)).shape == (1, 3, 10, 8)
    assert replay(x, _base(steps[:1])).shape == (1, 3, 40, 32)  # ends at the output size


# -- training data and validation ----------------------------------------------------------
@pytest.fixture
def folder(tmp_path):
    for index in range(3):
        array = (_image(64, 72, seed=index)[0].permute(1, 2, 0).numpy() * 255).round()
        PILImage.fromarray(array.astype(np.uint8)).save(tmp_path / f"{index}.png")
    return tmp_path


@pytest.mark.parametrize("scale, task, side", [(1, "denoise", 32), (4, "sr", 8)])
def test_random_patches_drawn_by_the_realistic_model(folder, scale, task, side):
    spec = DegradationSpec.realistic_photo(scale)
    assert spec.task == task and spec.scale == scale
    patches = RandomPatches(folder, spec, patch_size=32, patches_per_epoch=4, seed=3)
    item = patches[1]
    assert item["clean"].shape == (3, 32, 32) and item["degraded"].shape == (3, side, side)
    assert int(item["scale"]) == scale and float(item["sigma"]) == 0
    assert torch.equal(item["degraded"], patches[1]["degraded"])
    assert not torch.equal(item["degraded"], patches[2]["degraded"])


def test_realistic_spec_refuses_a_task_or_noise_that_does_not_fit():
    model = RealisticDegradation(4)
    with pytest.raises(ValueError, match="task sr"):
        DegradationSpec("denoise", realistic=model)
    with pytest.raises(ValueError, match="sigma"):
        DegradationSpec("denoise", scale=1, sigma=(0, 25), realistic=RealisticDegradation(1))


def test_recipe_degradation_kind_realistic():
    from pixelsmith.train.config import recipe_from_dict
    from pixelsmith.train.families.restoration import degradation_spec

    def recipe(**degradation):
        return recipe_from_dict({"model": {"name": "unet"}, "data": {"train": "x"},
                                 "degradation": degradation, "train": {"steps": 1}})

    spec = degradation_spec(recipe(task="sr", kind="realistic", order="bsrgan"))
    assert spec.realistic.scale == 4 and spec.realistic.order == "bsrgan"
    assert degradation_spec(recipe(task="denoise", kind="realistic", scale=1)).scale == 1
    assert degradation_spec(recipe(task="denoise", kind="realistic", light=0.3)).realistic.light \
        == 0.3
    for bad, message in [({"task": "denoise", "sigma": [0, 25], "light": 0.3}, "kind realistic"),
                         ({"task": "denoise", "kind": "realistic", "sigma": [0, 25]}, "sigma"),
                         ({"task": "deblur", "kind": "realistic"}, "task denoise"),
                         ({"task": "sr", "kind": "realistic", "scale": 2}, "scale"),
                         ({"task": "denoise", "kind": "realistic", "scale": 4}, "scale")]:
        with pytest.raises(PixelsmithError, match=message) as info:
            degradation_spec(recipe(**bad))
        assert "\n" not in str(info.value)


def test_realistic_case_crops_to_the_scale_and_is_reproducible():
    clean = _image(42, 37)
    reference, degraded, known = realistic_case(clean, RealisticDegradation(4), _gen(0))
    assert reference.shape[-2:] == (40, 36) and degraded.shape[-2:] == (10, 9)
    assert known.scale == 4
    again = realistic_case(clean, RealisticDegradation(4), _gen(0))[1]
    assert torch.equal(degraded, again)
    assert realistic_case(clean, RealisticDegradation(1), _gen(0))[2].scale is None


# -- the command line -----------------------------------------------------------------------
def run(capsys, *argv: str) -> tuple[int, str]:
    try:
        main(list(argv))
        code = 0
    except SystemExit as exc:
        code = int(exc.code or 0)
    return code, capsys.readouterr().err


@pytest.fixture
def photo(tmp_path):
    path = tmp_path / "in.png"
    array = (_image(40, 52)[0].permute(1, 2, 0).numpy() * 255).round().astype(np.uint8)
    PILImage.fromarray(array).save(path)
    return path


@pytest.mark.parametrize("scale, size", [(None, (52, 40)), ("4", (13, 10))])
def test_cli_realistic_writes_the_image_and_its_draw(tmp_path, capsys, photo, scale, size):
    extra = ["--scale", scale] if scale else []
    outputs = []
    for name in ("a", "b"):
        code, err = run(capsys, "degrade", str(photo), "-o", str(tmp_path / f"{name}.png"),
                        "--realistic", "--seed", "7", "--save-params",
                        str(tmp_path / f"{name}.json"), *extra)
        assert code == 0, err
        outputs.append(np.asarray(PILImage.open(tmp_path / f"{name}.png")))
    assert PILImage.open(tmp_path / "a.png").size == size
    assert np.array_equal(outputs[0], outputs[1])
    params = json.loads((tmp_path / "a.json").read_text())
    assert params == json.loads((tmp_path / "b.json").read_text())
    assert params["scale"] == (int(scale) if scale else 1) and params["steps"]
    # the saved draw replays to the written image
    x = torch.from_numpy(np.array(PILImage.open(photo))).permute(2, 0, 1)[None] / 255.0
    replayed = (replay(x.float(), params)[0].permute(1, 2, 0) * 255).round().byte().numpy()
    assert np.array_equal(replayed, outputs[0])


def test_cli_realistic_shake_starts_the_chain_with_camera_shake(tmp_path, capsys, photo):
    code, err = run(capsys, "degrade", str(photo), "-o", str(tmp_path / "s.png"), "--realistic",
                    "--shake", "--seed", "2", "--save-params", str(tmp_path / "s.json"))
    assert code == 0, err
    assert "camera shake" in err
    params = json.loads((tmp_path / "s.json").read_text())
    assert params["steps"][0]["op"] == "blur"
    assert params["steps"][0]["kernel"]["type"] == "motion"


@pytest.mark.parametrize("argv_tail, message", [
    (["--realistic", "--scale", "3"], "scales 1 and 4"),
    (["--realistic", "--scale", "four"], "scales 1 and 4"),
    (["--scale", "4"], "need --realistic"),
    (["--save-params", "p.json"], "need --realistic"),
    (["--shake"], "need --realistic"),
    (["--realistic", "--noise", "gaussian:25"], "drop --blur"),
])
def test_cli_realistic_bad_options_are_one_line_errors(tmp_path, capsys, photo, argv_tail,
                                                       message):
    target = tmp_path / "out.png"
    code, err = run(capsys, "degrade", str(photo), "-o", str(target), *argv_tail)
    assert code == 2 and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1 and message in err
    assert not target.exists()
