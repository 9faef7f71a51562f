"""``pixelsmith serve``: a local web page and REST API over restoration, the codec and the
generators (the ``web`` extra: FastAPI, uvicorn, python-multipart).

Importing this package loads nothing heavy: :mod:`pixelsmith.cli.serve` needs only click, and
FastAPI is imported by :mod:`pixelsmith.web.app` when the server starts.
"""
