"""denoise_dejpeg --reuse-baseline: which earlier baseline result a row keeps."""

import benchmarks.denoise_dejpeg as bench


def _old(baseline_images: int, images: int = 68) -> dict:
    return {"meta": {"images": images, "baseline_images": baseline_images, "date": "d1"},
            "results": [{"method": "denoise-color"}, {"method": "bm3d", "psnr": 30.0}]}


def test_reuse_keeps_the_baseline_as_it_ran_unless_a_limit_asks_for_more(monkeypatch):
    row = next(r for r in bench.rows() if r.key == "color-CBSD68-25")
    monkeypatch.setattr(bench, "report_of", lambda key: _old(4))
    assert bench.kept_baseline(row, images=68, limit=None)[1:] == (4, "d1")
    assert bench.kept_baseline(row, images=68, limit=4) is not None
    assert bench.kept_baseline(row, images=68, limit=10) is None
    assert bench.kept_baseline(row, images=24, limit=None) is None  # other images
    monkeypatch.setattr(bench, "report_of", lambda key: None)
    assert bench.kept_baseline(row, images=68, limit=None) is None
