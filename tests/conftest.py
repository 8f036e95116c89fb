import os

import pytest

# A missing model must fail in seconds, not wait on a hub that is not there.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.pop("ANYWIDGET_HMR", None)


@pytest.fixture
def recording(monkeypatch):
    """Widgets created in the test record their comm traffic instead of needing a kernel."""
    from tests.support.fake_kernel import use_recording_comms

    use_recording_comms(monkeypatch)
