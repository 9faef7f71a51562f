"""pixelsmith explain: the explanations mean something (completeness, conservation, model
randomisation, bit accounting) and the command writes a page or fails on one line."""

from __future__ import annotations

import dataclasses
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from captum_marker import HAS_CAPTUM, needs_captum
from cli_runner import run as run_cli
from torch import nn

from pixelsmith.explain import attribution as at
from pixelsmith.explain.lrp import lrp, relevance_map
from pixelsmith.explain.sanity import (
    edge_map,
    radial_normalized,
    randomized,
    rank_correlation,
)
from pixelsmith.explain.subject import load_subject, make_subject, rebind
from pixelsmith.io import read_image

pytestmark = pytest.mark.usefixtures("one_thread")


SAMPLES_DIR = Path(__file__).resolve().parents[1] / "src" / "pixelsmith" / "samples"


@pytest.fixture(scope="module")
def crop() -> torch.Tensor:
    image = read_image(SAMPLES_DIR / "landscape.png")
    return image[..., 96:144, 40:88].contiguous()  # 48 x 48: house, trees and sky


def _hole(size: int = 48) -> torch.Tensor:
    mask = torch.zeros(1, 1, size, size)
    mask[..., 18:30, 14:34] = 1.0
    return mask


SHIPPED = {  # model -> conditioning for the 48 x 48 crop
    "denoise-gray": {"sigma": 25.0},
    "denoise-color": {"sigma": 25.0},
    "dejpeg-color": {"quality": 20},
    "deblur-blind": {},
    "sr-x2": {},
    "inpaint": {"mask": "hole"},
    "features-cifar10": {},
    "features-mnist": {},
}


def subject_of(name: str, x: torch.Tensor):
    options = dict(SHIPPED[name])
    if options.get("mask") == "hole":
        options["mask"] = _hole(x.shape[-1])
    return load_subject(name, x, **options)


# -- integrated gradients ---------------------------------------------------------------------

@needs_captum
@pytest.mark.parametrize("name", ["denoise-gray", "dejpeg-color", "sr-x2", "inpaint",
                                  "features-mnist"])
def test_integrated_gradients_are_complete(name, crop):
    subject = subject_of(name, crop)
    target = at.default_target(subject)
    result = at.integrated_gradients(subject, target, steps=32)
    f = at.scalar_fn(subject, target)
    with torch.no_grad():
        expected = float(f(subject.x)[0] - f(torch.zeros_like(subject.x))[0])
    assert result.delta == pytest.approx(expected, rel=1e-5)
    assert abs(float(result.attribution.sum()) - expected) <= 0.01 * abs(expected)
    assert result.completeness_error < 0.01


@needs_captum
def test_completeness_measure_can_fail(crop):
    """Two steps are too few for a classifier's kinked path: the measure must notice."""
    subject = subject_of("features-mnist", crop)
    result = at.integrated_gradients(subject, at.default_target(subject), steps=2,
                                     tolerance=None)
    assert result.steps == 2
    assert result.completeness_error > 0.01


def test_inpainting_attribution_lies_on_known_pixels(crop):
    subject = subject_of("inpaint", crop)
    target = at.default_target(subject)
    assert target.region is not None  # the filled region by default
    sources = at.inpaint_sources(at.gradient_x_input(subject, target), subject.mask)
    assert sources.inside_share < 1e-6  # missing pixels carry no information
    assert sources.sources.sum() > 0
    assert 0 < sources.mean_distance <= sources.p90_distance + 1e-9


def test_receptive_field_grows_with_depth(crop):
    small = at.effective_receptive_field(subject_of("denoise-gray", crop))
    assert 0 <= small.r50 <= small.r90 < 48
    assert small.grad[small.centre[1], small.centre[0]] > 0
    far = np.zeros_like(small.grad)
    far[0, 0] = 1.0
    assert at._radius(far, 24, 24, 0.9) == 24


# -- LRP ----------------------------------------------------------------------------------------

@pytest.mark.parametrize("name", list(SHIPPED))
@pytest.mark.parametrize("rule", ["epsilon", "zplus"])
def test_lrp_conserves_relevance_on_shipped_networks(name, rule, crop):
    subject = subject_of(name, crop)
    result = lrp(subject, at.default_target(subject), rule=rule)
    assert result.layers, "no rule layer was recorded"
    assert result.conservation_error < 0.01
    assert result.worst_layer_error < 0.01
    assert np.isfinite(relevance_map(result)).all()


def test_lrp_epsilon_equals_gradient_x_input_without_biases():
    """Bias-free ReLU networks (conv, transposed conv, residual add): LRP-0 = gradient x input,
    and both sum to the output exactly."""
    torch.manual_seed(0)

    class Net(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.a = nn.Conv2d(1, 4, 3, padding=1, bias=False)
            self.b = nn.Conv2d(4, 4, 2, stride=2, bias=False)
            self.c = nn.ConvTranspose2d(4, 4, 2, stride=2, bias=False)
            self.d = nn.Conv2d(4, 1, 3, padding=1, bias=False)
            self.channels, self.conditioning = 1, None

        def forward(self, x):
            h = torch.relu(self.a(x))
            return self.d(torch.relu(self.c(torch.relu(self.b(h)))) + h)

    from pixelsmith.nets.dncnn import DnCNN

    net = Net().eval()
    x = torch.rand(1, 1, 16, 16)
    holder = DnCNN(1, 4, 2, batch_norm=False).eval()  # a restoration network to bind to
    subject = make_subject(holder, x, sigma=10)
    subject = dataclasses.replace(subject, model=net, run=net)
    target = at.Target(box=(4, 4, 12, 12))
    result = lrp(subject, target, eps=1e-9)
    gxi = at.gradient_x_input(subject, target)
    assert torch.allclose(result.relevance, gxi, atol=1e-5, rtol=1e-4)
    assert float(result.relevance.sum()) == pytest.approx(result.output, rel=1e-4)


@needs_captum
def test_lrp_matches_captum_on_layers_captum_covers(crop):
    """Where captum has rules (conv with bias, ReLU, max pooling), the textbook epsilon rule
    (bias absorbs its share) agrees with captum's LRP."""
    from captum.attr import LRP

    torch.manual_seed(1)
    net = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                        nn.Conv2d(4, 6, 3, padding=1), nn.ReLU(), nn.Conv2d(6, 3, 12)).eval()
    x = torch.rand(1, 1, 24, 24)
    holder = subject_of("features-mnist", crop)
    subject = dataclasses.replace(holder, model=net, run=net, x=x)
    ours = lrp(subject, at.Target(label=1), eps=1e-9, bias="absorb")
    theirs = LRP(net).attribute(x.clone().requires_grad_(True), target=(1, 0, 0))
    assert torch.allclose(ours.relevance, theirs.detach(), atol=1e-5, rtol=1e-3)
    shared = lrp(subject, at.Target(label=1), eps=1e-9, bias="share")  # a different rule
    assert not torch.allclose(shared.relevance, theirs.detach(), atol=1e-5, rtol=1e-3)


def test_lrp_refuses_layers_without_rules(crop):
    from pixelsmith.errors import PixelsmithError

    subject = load_subject("vae-mnist", crop)
    with pytest.raises(PixelsmithError, match="LRP"):
        lrp(subject, at.Target(label=0))


# -- model randomisation (Adebayo et al. 2018) ------------------------------------------------

@needs_captum
def test_classifier_maps_change_when_weights_are_randomised(crop):
    from pixelsmith.explain.gradcam import grad_cam

    subject = subject_of("features-cifar10", crop)
    target = at.default_target(subject)
    random_subject = rebind(subject, randomized(subject.model, seed=0))
    trained = at.pixel_map(at.integrated_gradients(subject, target, 16).attribution)
    shuffled = at.pixel_map(at.integrated_gradients(random_subject, target, 16).attribution)
    assert rank_correlation(trained, shuffled) < 0.5
    cam = grad_cam(subject, target.label).heat.numpy()
    cam_random = grad_cam(random_subject, target.label).heat.numpy()
    assert rank_correlation(cam, cam_random, support=False) < 0.5


def test_restoration_maps_change_when_weights_are_randomised(crop):
    subject = subject_of("denoise-color", crop)
    target = at.default_target(subject)
    random_subject = rebind(subject, randomized(subject.model, seed=0))
    assert not torch.equal(random_subject.output(), subject.output())
    centre = (target.box[0], target.box[1])
    trained = radial_normalized(at.pixel_map(at.gradient_x_input(subject, target)), centre)
    shuffled = radial_normalized(at.pixel_map(at.gradient_x_input(random_subject, target)),
                                 centre)
    assert rank_correlation(trained, shuffled) < 0.5


def test_randomisation_check_flags_an_edge_detector(crop):
    """An 'explanation' that ignores the model (a Sobel edge map) is the same for any weights:
    the check reports it as such."""
    subject = subject_of("features-cifar10", crop)
    random_subject = rebind(subject, randomized(subject.model, seed=0))
    assert rank_correlation(edge_map(subject.x), edge_map(random_subject.x)) > 0.99


def test_randomized_copy_leaves_the_model_alone(crop):
    subject = subject_of("denoise-gray", crop)
    before = {k: v.clone() for k, v in subject.model.state_dict().items()}
    randomized(subject.model, seed=3)
    assert all(torch.equal(before[k], v) for k, v in subject.model.state_dict().items())


# -- Grad-CAM, activations, VAE units --------------------------------------------------------

@needs_captum
def test_grad_cam_for_classifier_and_discriminator(crop):
    from pixelsmith.explain.gradcam import grad_cam
    from pixelsmith.nets.dcgan import DCGANDiscriminator

    cam = grad_cam(subject_of("features-mnist", crop))
    assert cam.heat.shape == (28, 28) and float(cam.heat.min()) >= 0
    torch.manual_seed(0)
    critic = DCGANDiscriminator(3, 32, 8).eval()
    cam = grad_cam(make_subject(critic, crop))
    assert cam.heat.shape == (32, 32) and "fake" in cam.what


def test_activations_summarise_every_stage(crop):
    from pixelsmith.explain.activations import activations

    subject = subject_of("denoise-gray", crop)
    stages = activations(subject, top=4)
    names = [s.name for s in stages]
    assert names[0] == "head" and names[-1] == "tail" and "body" in names
    for stage in stages:
        assert 0.0 <= stage.sparsity <= 1.0
        assert stage.top_energy == sorted(stage.top_energy, reverse=True)
        assert stage.maps.shape[0] == min(4, stage.shape[0])
        energy = stage.maps.pow(2).mean(dim=(1, 2))
        assert torch.allclose(energy, torch.tensor(stage.top_energy), rtol=1e-4)


def test_vae_units_find_active_dimensions():
    from pixelsmith.explain.vae_units import vae_units
    from pixelsmith.zoo import load_model

    model = load_model("vae-mnist")
    images = model.sample(48, seed=0)
    units = vae_units(model, images)
    assert units.kl.shape == (model.latent_dim,) and (units.kl >= 0).all()
    assert 0 < len(units.active) <= model.latent_dim
    assert units.kl[units.order[0]] >= units.kl[units.order[-1]]
    one = vae_units(model, images[:1])
    assert len(one.active) == 0  # one image cannot show variation


# -- codec ------------------------------------------------------------------------------------

@pytest.mark.parametrize("name", ["codec-q1", "codec-q4", "codec-cb-q2"])
def test_codec_bit_map_sums_to_the_coded_size(name):
    from pixelsmith.codec import decompress, read_header
    from pixelsmith.explain.codec_bits import bit_map

    x = read_image(SAMPLES_DIR / "landscape.png")[..., :80, :72]
    subject = load_subject(name, x)
    bits = bit_map(subject)
    header = read_header(bits.data)
    assert (header.width, header.height) == (72, 80)
    assert bits.bpp.shape == header.padded_size
    gap = bits.payload_bits - bits.map_bits
    assert 0 <= gap <= 64 * 3  # the range coder's last words, per stream (3 for checkerboard)
    assert abs(8 * bits.file_bytes - bits.map_bits) <= 8 * bits.header_bytes + 128
    assert bits.header_bytes < 64
    assert bits.scales is not None and (bits.scales > 0).all()
    assert decompress(bits.data).shape[-2:] == (80, 72)  # a real, decodable file


def test_codec_bit_map_refuses_the_zlib_baseline():
    from pixelsmith.errors import PixelsmithError
    from pixelsmith.explain.codec_bits import bit_map

    with pytest.raises(PixelsmithError, match="entropy model"):
        bit_map(load_subject("codec-ae", torch.rand(1, 3, 32, 32)))


# -- the command --------------------------------------------------------------------------------



@pytest.fixture
def small_png(tmp_path, crop):
    from pixelsmith.io import save_image

    path = tmp_path / "small.png"
    save_image(path, crop)
    return path


def test_cli_writes_a_self_contained_page(tmp_path, capsys, small_png):
    out = tmp_path / "out"
    kinds = "activations,attribution,lrp" if HAS_CAPTUM else "activations,lrp"
    code, stdout, err = run_cli(capsys, "explain", str(small_png), "--method", "denoise-gray",
                                "--sigma", "25", "--at", "20,30", "--kind", kinds, "--steps",
                                "8", "-o", str(out))
    assert code == 0, err
    page = out / "index.html"
    assert stdout.strip() == str(page)
    text = page.read_text()
    sources = re.findall(r'src="([^"]+)"', text)
    assert len(sources) >= 10 and all(s.endswith(".png") for s in sources)
    assert all((out / s).is_file() for s in sources)
    assert "http" not in text and "<script" not in text
    assert "output pixel (20, 30)" in text


@pytest.mark.parametrize("argv, message", [
    (["missing.png", "--method", "denoise-gray"], "no such file"),
    (["IMG", "--method", "denoise-gray", "--at", "3"], "--at"),
    (["IMG", "--method", "denoise-gray", "--at", "500,1"], "outside"),
    (["IMG", "--method", "denoise-gray", "--box", "5,5,2,9"], "--box"),
    (["IMG", "--method", "denoise-gray", "--kind", "codec"], "does not fit"),
    (["IMG", "--method", "denoise-gray", "--kind", "magic"], "unknown --kind"),
    (["IMG", "--method", "inpaint"], "--mask"),
    (["IMG", "--method", "dejpeg-color"], "quality"),
    (["IMG", "--method", "no-such-model"], "neither a model folder"),
    (["IMG", "--method", "gan-mnist"], "GAN generator"),
    (["IMG", "--method", "denoise-gray", "--steps", "x"], "--steps"),
    (["IMG", "--method", "features-mnist", "--at", "3,3"], "--class"),
    (["IMG", "--method", "features-mnist", "--class", "12"], "--class"),
])
def test_cli_bad_input_is_one_line_exit_2(tmp_path, capsys, small_png, argv, message):
    argv = [str(small_png) if a == "IMG" else a for a in argv]
    code, _, err = run_cli(capsys, "explain", *argv, "-o", str(tmp_path / "o"))
    assert code == 2
    assert "Traceback" not in err
    assert len(err.strip().splitlines()) == 1, err
    assert message in err


def test_importing_the_package_and_cli_loads_no_torch():
    probe = ("import sys, pixelsmith.cli.main, pixelsmith.explain, pixelsmith.cli.explain; "
             "print('torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                         check=True).stdout.strip()
    assert out == "False"


def test_python_api_names_resolve():
    import pixelsmith.explain as api
    import pixelsmith.explain.activations
    import pixelsmith.explain.lrp
    import pixelsmith.explain.vae_units  # noqa: F401 (the submodules are imported: no shadowing)

    for name in api.__all__:
        value = getattr(api, name)
        assert callable(value) and not isinstance(value, type(api)), name
    assert api.lrp_relevance is pixelsmith.explain.lrp.lrp
    with pytest.raises(AttributeError):
        api.no_such_thing  # noqa: B018
