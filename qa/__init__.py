"""Extractive question answering over a collection of articles: verbatim, cited passages only."""

import os

# ONNX Runtime's Linux build sends usage events to Microsoft (DNS lookups of
# mobile.events.data.microsoft.com) and writes a device id under ~/.cache/Microsoft unless this
# is set before it is imported. The service reaches no network; a user's own setting wins.
os.environ.setdefault("ORT_DISABLE_TELEMETRY", "1")

__version__ = "0.1.0"
