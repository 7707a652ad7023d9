import os

import pytest


def require_tool(name: str, why: str):
    """Skip with the reason on a machine without the tool; under CI, fail instead (CI must never pass by skipping)."""
    if os.environ.get("CI"):
        pytest.fail(f"{name} is required under CI: {why}")
    pytest.skip(f"{name} is not available: {why}")
