"""``needs_captum``: skip a test (with the reason) where captum, the explain extra, is missing."""

from __future__ import annotations

import importlib.util

import pytest

HAS_CAPTUM = importlib.util.find_spec("captum") is not None
#: integrated gradients and Grad-CAM come from captum; without it their panels are skipped
needs_captum = pytest.mark.skipif(not HAS_CAPTUM, reason="captum is not installed "
                                  "(pip install 'pixelsmith[explain]')")
