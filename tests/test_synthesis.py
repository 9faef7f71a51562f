"""Latent-space synthesis (pixelsmith.synthesis and its four commands) on tiny untrained models
exported as model folders: shapes, grid layout, seeds, interpolation ends, traversals, errors."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image as PILImage
from test_cli import assert_one_line_error, run

import pixelsmith
from pixelsmith.errors import PixelsmithError
from pixelsmith.io import read_image, save_image
from pixelsmith.nets.autoencoder import ConvAutoencoder, ConvVAE
from pixelsmith.nets.dcgan import DCGANGenerator
from pixelsmith.synthesis import (
    ResizeWarning,
    decode,
    draw_latents,
    encode_images,
    fit_image,
    generate,
    image_grid,
    interpolate,
    interpolate_seeds,
    reconstruct,
    slerp,
    traverse,
    traverse_codes,
)
from pixelsmith.zoo import load_model, save_model

pytestmark = pytest.mark.usefixtures("one_thread")

NETS = {
    "vae": ("conv-vae", ConvVAE, {"channels": 1, "image_size": 28, "latent_dim": 4, "base": 8,
                                  "likelihood": "bernoulli"}),
    "ae": ("conv-ae", ConvAutoencoder, {"channels": 3, "image_size": 16, "latent_dim": 6,
                                        "base": 8}),
    "gan": ("dcgan-g", DCGANGenerator, {"latent_dim": 8, "channels": 1, "image_size": 28,
                                        "base": 8}),
}
FAMILY = {"vae": "vae", "ae": "autoencoder", "gan": "gan"}


def export(folder: Path, key: str) -> Path:
    """A model folder as `pixelsmith export-model` writes it, for an untrained tiny network."""
    name, cls, args = NETS[key]
    torch.manual_seed(len(key))
    net = cls(**args)
    config = {"name": folder.name, "summary": f"tiny untrained {name}", "family": FAMILY[key],
              "task": FAMILY[key], "network": {"name": name, "args": args},
              "channels": args["channels"], "needs": []}
    return save_model(folder, net, config)


@pytest.fixture(scope="module")
def folders(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("synthesis-models")
    return {key: export(root / f"tiny-{key}", key) for key in NETS}


@pytest.fixture(scope="module")
def restore_model(tmp_path_factory) -> Path:
    """A restoration model folder: loadable, but not generative."""
    from test_restore_models import save_unet

    return save_unet(tmp_path_factory.mktemp("restoration") / "denoiser")


@pytest.fixture(scope="module")
def models(folders) -> dict[str, torch.nn.Module]:
    return {key: load_model(path) for key, path in folders.items()}


@pytest.fixture(scope="module")
def pictures(tmp_path_factory) -> dict[str, Path]:
    """A 28x28 gray 'digit', another one, and a 40x30 RGB photo-like image."""
    root = tmp_path_factory.mktemp("synthesis-images")
    rng = np.random.default_rng(0)
    paths = {}
    for name, shape in (("a", (28, 28)), ("b", (28, 28)), ("rgb", (30, 40, 3))):
        data = (rng.random(shape) * 255).astype(np.uint8)
        paths[name] = root / f"{name}.png"
        PILImage.fromarray(data).save(paths[name])
    return paths


def assert_close(actual, expected, rtol: float = 0.0, atol: float = 1e-6) -> None:
    """Elementwise |actual - expected| <= atol + rtol |expected| (torch.testing.assert_close
    costs seconds of imports on its first call; this keeps the module fast)."""
    actual, expected = torch.as_tensor(actual), torch.as_tensor(expected)
    assert actual.shape == expected.shape, (actual.shape, expected.shape)
    error = (actual.double() - expected.double()).abs()
    bound = atol + rtol * expected.double().abs()
    assert bool((error <= bound).all()), f"max error {float(error.max()):.3g}"


def _leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


# -- API ----------------------------------------------------------------------------------------

def test_image_grid_layout():
    images = torch.stack([torch.full((1, 3, 2), float(i) / 10) for i in range(5)])
    grid = image_grid(images, nrow=3, padding=1, pad_value=1.0)
    assert grid.shape == (1, 1, 2 * (3 + 1) + 1, 3 * (2 + 1) + 1)
    for index in range(5):
        row, col = divmod(index, 3)
        top, left = 1 + row * 4, 1 + col * 3
        assert torch.all(grid[0, 0, top:top + 3, left:left + 2] == index / 10)
    assert torch.all(grid[0, 0, 5:8, 7:9] == 1.0)  # the empty sixth cell stays blank
    assert torch.all(grid[0, 0, 0] == 1.0) and torch.all(grid[0, 0, :, 0] == 1.0)
    assert image_grid(images, nrow=10, padding=0).shape == (1, 1, 3, 10)  # one short row
    assert torch.equal(image_grid(list(images), nrow=3, padding=1), grid)
    with pytest.raises(PixelsmithError):
        image_grid(images, nrow=0)


def test_generate_shapes_seed_and_sample_api(models):
    vae, gan = models["vae"], models["gan"]
    a = generate(vae, 6, seed=3)
    assert a.shape == (6, 1, 28, 28) and a.dtype == torch.float32
    assert float(a.min()) >= 0 and float(a.max()) <= 1
    assert_close(generate(vae, 6, seed=3), a, rtol=0, atol=0)
    assert not torch.equal(generate(vae, 6, seed=4), a)
    assert_close(a, vae.sample(6, seed=3), rtol=0, atol=0)  # same stream on CPU
    b = generate(gan, 5, seed=1, temperature=0.5)
    assert b.shape == (5, 1, 28, 28)
    z = draw_latents(5, 8, seed=1, temperature=0.5)
    assert_close(b, gan(z).clamp(0, 1), rtol=0, atol=0)
    assert not gan.training and not vae.training
    assert pixelsmith.generate is generate and pixelsmith.traverse is traverse


def test_plain_autoencoder_cannot_generate(models):
    with pytest.raises(PixelsmithError, match="no prior"):
        generate(models["ae"], 4, seed=0)
    with pytest.raises(PixelsmithError, match="no encoder"):
        encode_images(models["gan"], torch.rand(1, 1, 28, 28))


def test_model_methods_and_reconstruct(models):
    x = torch.rand(2, 3, 16, 16)
    ae = models["ae"]
    assert ae.encode(x).shape == (2, 6) and ae.decode(ae.encode(x)).shape == (2, 3, 16, 16)
    assert_close(reconstruct(ae, x), ae.reconstruct(x))
    vae = models["vae"]
    y = torch.rand(2, 1, 28, 28)
    assert_close(reconstruct(vae, y), vae.reconstruct(y))
    assert_close(encode_images(vae, y), vae.encode(y)[0])


def test_images_are_fitted_with_a_note(models, pictures):
    notes: list[str] = []
    fitted = fit_image(models["vae"], pictures["rgb"], note=notes.append)
    assert fitted.shape == (1, 1, 28, 28)
    assert len(notes) == 1 and "gray" in notes[0] and "40x30 to 28x28" in notes[0]
    assert fit_image(models["vae"], pictures["a"], note=notes.append).shape == (1, 1, 28, 28)
    assert len(notes) == 1  # nothing to change, nothing said
    with pytest.warns(ResizeWarning, match="RGB"):
        assert encode_images(models["ae"], pictures["a"]).shape == (1, 6)


@pytest.mark.parametrize("key", ["vae", "ae"])
def test_interpolation_ends_are_the_decoded_codes(models, pictures, key):
    model = models[key]
    strip = interpolate(model, pictures["a"], pictures["b"], steps=5, note=lambda _: None)
    size = model.image_size
    assert strip.shape == (5, model.channels, size, size)
    codes = encode_images(model, [pictures["a"], pictures["b"]], note=lambda _: None)
    ends = decode(model, codes)
    assert_close(strip[0], ends[0], rtol=0, atol=1e-5)
    assert_close(strip[-1], ends[1], rtol=0, atol=1e-5)
    assert not torch.allclose(strip[2], strip[0])


def test_slerp_keeps_the_norm_and_its_ends():
    a, b = torch.tensor([3.0, 0.0, 0.0]), torch.tensor([0.0, 3.0, 0.0])
    path = slerp(a, b, torch.linspace(0, 1, 5, dtype=torch.float64))
    assert torch.equal(path[0], a) and torch.equal(path[-1], b)
    assert_close(path.norm(dim=1), torch.full((5,), 3.0))
    assert_close(path[2], torch.tensor([1.0, 1.0, 0.0]) * 3 / math.sqrt(2))
    parallel = slerp(a, 2 * a, torch.tensor([0.0, 0.5, 1.0]))  # falls back to a line
    assert_close(parallel[1], 1.5 * a)


def test_interpolate_seeds_ends_equal_generate(models):
    gan = models["gan"]
    strip = interpolate_seeds(gan, 3, 7, steps=4)
    assert strip.shape == (4, 1, 28, 28)
    assert_close(strip[0], generate(gan, 1, seed=3)[0], rtol=0, atol=1e-5)
    assert_close(strip[-1], generate(gan, 1, seed=7)[0], rtol=0, atol=1e-5)
    with pytest.raises(PixelsmithError, match="steps"):
        interpolate_seeds(gan, 3, 7, steps=1)


def test_traversal_changes_one_dimension_per_row(models, pictures):
    vae = models["vae"]
    values = [-2.0, 0.0, 2.0]
    for base in (None, 5, pictures["a"]):
        codes = traverse_codes(vae, [0, 2, 3], values, base)
        assert codes.shape == (3, 3, 4)
        for row, dim in enumerate([0, 2, 3]):
            assert_close(codes[row, :, dim], torch.tensor(values))
            others = [d for d in range(4) if d != dim]
            assert torch.equal(codes[row, :, others], codes[row, :1, others].expand(3, -1))
    assert torch.equal(traverse_codes(vae, [1], values)[0, :, [0, 2, 3]], torch.zeros(3, 3))
    grid = traverse(vae, [0, 1], values, padding=2)
    assert grid.shape == (1, 1, 2 * 30 + 2, 3 * 30 + 2)
    with pytest.raises(PixelsmithError, match="out of range"):
        traverse(vae, [4], values)
    with pytest.raises(PixelsmithError, match="start the traversal from an image"):
        traverse(models["ae"], [0], values)


# -- CLI ----------------------------------------------------------------------------------------

def test_cli_generate_grid_is_deterministic(tmp_path, capsys, folders):
    for name, seed in (("a.png", "0"), ("b.png", "0"), ("c.png", "1")):
        code, _, err = run(capsys, "generate", "--method", str(folders["vae"]), "-n", "6",
                           "--seed", seed, "-o", str(tmp_path / name), "--device", "cpu")
        assert code == 0, err
    assert (tmp_path / "a.png").read_bytes() == (tmp_path / "b.png").read_bytes()
    assert (tmp_path / "a.png").read_bytes() != (tmp_path / "c.png").read_bytes()
    grid = read_image(tmp_path / "a.png")
    assert grid.shape == (1, 1, 2 * 30 + 2, 3 * 30 + 2)  # 6 images: 3 per row, 2 rows
    expected = image_grid(generate(load_model(folders["vae"]), 6, seed=0), nrow=3)
    assert_close(grid, torch.round(expected * 255) / 255, rtol=0, atol=0)


def test_cli_generate_out_dir(tmp_path, capsys, folders):
    code, _, err = run(capsys, "generate", "--method", str(folders["gan"]), "-n", "3",
                       "--out-dir", str(tmp_path / "fakes"), "--temperature", "0.7")
    assert code == 0, err
    assert _leftovers(tmp_path / "fakes") == ["0000.png", "0001.png", "0002.png"]
    assert read_image(tmp_path / "fakes" / "0001.png").shape == (1, 1, 28, 28)


def test_cli_reconstruct_file_and_folder(tmp_path, capsys, folders, pictures):
    code, _, err = run(capsys, "reconstruct", "--method", str(folders["vae"]),
                       str(pictures["rgb"]), "-o", str(tmp_path / "one.png"))
    assert code == 0, err
    notes = [line for line in err.splitlines() if "note:" in line]  # and the output's line
    assert len(notes) == 1 and "28x28" in notes[0] and len(err.strip().splitlines()) == 2
    assert read_image(tmp_path / "one.png").shape == (1, 1, 28, 28)
    code, _, err = run(capsys, "reconstruct", "--method", str(folders["ae"]),
                       str(pictures["a"].parent), "-o", str(tmp_path / "out"))
    assert code == 0, err
    assert _leftovers(tmp_path / "out") == ["a.png", "b.png", "rgb.png"]
    assert "3 of 3 inputs were converted or resized" in err
    expected = reconstruct(load_model(folders["ae"]), pictures["b"], note=lambda _: None)
    assert_close(read_image(tmp_path / "out" / "b.png"),
                               torch.round(expected * 255) / 255, rtol=0, atol=1 / 255)


def test_cli_reconstruct_skip_existing_resumes_a_folder(tmp_path, capsys, folders, pictures):
    out = tmp_path / "out"
    out.mkdir()
    (out / "b.png").write_bytes(b"left as it is")
    code, _, err = run(capsys, "reconstruct", "--method", str(folders["ae"]),
                       str(pictures["a"].parent), "-o", str(out), "--skip-existing")
    assert code == 0, err
    assert "(1 skipped: already there)" in err
    assert (out / "b.png").read_bytes() == b"left as it is"
    assert _leftovers(out) == ["a.png", "b.png", "rgb.png"]


def test_cli_interpolate_images_and_seeds(tmp_path, capsys, folders, pictures):
    code, _, err = run(capsys, "interpolate", "--method", str(folders["vae"]),
                       str(pictures["a"]), str(pictures["b"]), "--steps", "4",
                       "-o", str(tmp_path / "strip.png"))
    assert code == 0, err
    assert read_image(tmp_path / "strip.png").shape == (1, 1, 30 + 2, 4 * 30 + 2)
    code, _, err = run(capsys, "interpolate", "--method", str(folders["gan"]), "--seeds", "3,7",
                       "--steps", "5", "-o", str(tmp_path / "seeds.png"))
    assert code == 0, err
    strip = read_image(tmp_path / "seeds.png")
    first = generate(load_model(folders["gan"]), 1, seed=3)[0]
    assert_close(strip[0, :, 2:30, 2:30], torch.round(first * 255) / 255,
                               rtol=0, atol=1 / 255)


def test_cli_traverse(tmp_path, capsys, folders, pictures):
    code, _, err = run(capsys, "traverse", "--method", str(folders["vae"]), "--dims", "0-2",
                       "--steps", "5", "--range", "2", "--seed", "1",
                       "-o", str(tmp_path / "t.png"))
    assert code == 0, err
    assert read_image(tmp_path / "t.png").shape == (1, 1, 3 * 30 + 2, 5 * 30 + 2)
    code, _, err = run(capsys, "traverse", "--method", str(folders["ae"]), "--dims", "0,5",
                       "--image", str(pictures["rgb"]), "-o", str(tmp_path / "ae.png"))
    assert code == 0, err
    assert read_image(tmp_path / "ae.png").shape == (1, 3, 2 * 18 + 2, 9 * 18 + 2)


@pytest.mark.parametrize("case", [
    ("generate", "{ae}", "-n", "4", "-o", "{out}"),                          # no prior
    ("generate", "{vae}", "-n", "0", "-o", "{out}"),
    ("generate", "{vae}", "-n", "4"),                                         # no output
    ("generate", "{vae}", "-n", "4", "-o", "{tmp}/grid.xyz"),
    ("generate", "{tmp}/no-such-model", "-n", "4", "-o", "{out}"),
    ("generate", "{restore}", "-n", "4", "-o", "{out}"),                      # not generative
    ("reconstruct", "{gan}", "{a}", "-o", "{out}"),                           # no encoder
    ("reconstruct", "{vae}", "{tmp}/missing.png", "-o", "{out}"),
    ("reconstruct", "{vae}", "{junk}", "-o", "{out}"),                        # not an image
    ("interpolate", "{vae}", "{a}", "-o", "{out}"),                           # one image
    ("interpolate", "{vae}", "{a}", "{b}", "--steps", "1", "-o", "{out}"),
    ("interpolate", "{vae}", "{a}", "{b}", "--steps", "x", "-o", "{out}"),
    ("interpolate", "{gan}", "{a}", "{b}", "-o", "{out}"),                    # GAN: seeds
    ("interpolate", "{ae}", "--seeds", "3,7", "-o", "{out}"),
    ("interpolate", "{gan}", "--seeds", "3", "-o", "{out}"),
    ("traverse", "{vae}", "--dims", "0-4", "-o", "{out}"),                    # latent_dim 4
    ("traverse", "{vae}", "--dims", "a-b", "-o", "{out}"),
    ("traverse", "{vae}", "--steps", "0", "-o", "{out}"),
    ("traverse", "{vae}", "--range", "-1", "-o", "{out}"),
    ("traverse", "{ae}", "--dims", "0", "-o", "{out}"),                       # AE needs --image
    ("traverse", "{gan}", "--image", "{a}", "-o", "{out}"),
    ("traverse", "{vae}", "--seed", "1", "--image", "{a}", "-o", "{out}"),
])
def test_cli_errors_are_one_line_and_leave_no_file(tmp_path, capsys, folders, pictures,
                                                   restore_model, case):
    (tmp_path / "junk.png").write_bytes(b"not a png at all")
    names = {"tmp": tmp_path, "out": tmp_path / "out.png", "a": pictures["a"],
             "b": pictures["b"], "junk": tmp_path / "junk.png", "restore": restore_model,
             **{key: path for key, path in folders.items()}}
    command, method, *rest = (part.format(**names) for part in case)
    before = _leftovers(tmp_path)
    code, _, err = run(capsys, command, "--method", method, *rest)
    assert_one_line_error(code, err)
    assert "pixelsmith: error:" in err
    assert _leftovers(tmp_path) == before  # no output, no temporary file


def test_save_image_round_trip_of_a_grid(tmp_path):
    grid = image_grid(torch.rand(4, 3, 8, 8), nrow=2)
    save_image(tmp_path / "g.png", grid)
    assert read_image(tmp_path / "g.png").shape == grid.shape
