from __future__ import annotations

import pytest


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "openwebui: drives a real Open WebUI from its own virtualenv (scripts/openwebui.sh)",
    )
