"""What the image panel receives from Python: the Capture keeps the pictures it was given (its own
read-only copies), the widget sends them once, downscaled and encoded with their original size,
and the kind shown's patch maps as int32 rows; a kind switch resends the maps, never the pictures;
a widget without pictures sends empty payloads."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from attn_widget import AttentionWidget, capture
from attn_widget.wire.payloads import IMAGE_WIRE_BYTES, IMAGE_WIRE_SIDE, images_payload, patches_payload
from tests.support.fake_kernel import use_recording_comms
from tests.support.vision_models import prompt, sample_image, tiny_vision

PHOTO = sample_image()  # 427 x 640


@pytest.fixture(scope="module")
def llava():
    model, processor = tiny_vision("llava")
    return capture(model, processor, prompt("llava"), images=PHOTO)


def decoded(payload: dict, i: int) -> np.ndarray:
    start = sum(payload["lengths"][:i])
    data = payload["data"][start : start + payload["lengths"][i]]
    return np.asarray(Image.open(io.BytesIO(data)).convert("RGB"))


def test_the_capture_keeps_a_read_only_copy_of_each_picture():
    model, processor = tiny_vision("vit")
    mine = PHOTO.copy()
    c = capture(model, processor, images=mine)
    [kept] = c.images
    assert kept.dtype == np.uint8 and kept.shape == (427, 640, 3) and np.array_equal(kept, PHOTO)
    mine[:] = 0  # the caller's array changes: the capture's picture does not
    assert np.array_equal(c.images[0], PHOTO)
    with pytest.raises(ValueError):
        c.images[0][0, 0, 0] = 1
    assert capture(*tiny_vision("vit"), images=PHOTO).patches().shape == c.patches().shape


def test_pictures_travel_once_with_their_original_size(monkeypatch, llava):
    use_recording_comms(monkeypatch)
    w = AttentionWidget.from_capture(llava)
    payload = w._images
    assert payload["what"] == "images" and payload["sizes"] == [[640, 427]] and payload["encoding"] == "jpeg"
    picture = decoded(payload, 0)
    assert picture.shape == (427, 640, 3)
    assert np.abs(picture.astype(int) - PHOTO.astype(int)).mean() < 4  # JPEG at quality 90
    rows = np.frombuffer(w._patches["data"], dtype="<i4").reshape(w._patches["shape"])
    assert np.array_equal(rows, llava.patches("self"))
    assert w.get_state()["_query_patches"] is None  # self-attention: "the same as the keys"
    w.comm.take()
    w.kind = "vision"
    sent = {k for m in w.comm.take() for k in m["data"].get("state", {})}
    assert {"_patches", "_query_patches"} <= sent and "_images" not in sent
    rows = np.frombuffer(w._patches["data"], dtype="<i4").reshape(w._patches["shape"])
    assert w._patches["kind"] == "vision" and np.array_equal(rows, llava.patches("vision"))


def test_large_pictures_are_downscaled_for_the_wire_and_many_share_a_budget():
    big = np.asarray(Image.fromarray(PHOTO).resize((3200, 2135)))
    payload = images_payload([big])
    assert payload["sizes"] == [[3200, 2135]] and max(payload["wire_sizes"][0]) == IMAGE_WIRE_SIDE
    assert decoded(payload, 0).shape == (683, 1024, 3)
    noise = np.random.default_rng(0).integers(0, 256, (1024, 1024, 3), dtype=np.uint8)  # JPEG's worst case
    many = images_payload([noise] * 4)
    assert len(many["data"]) <= IMAGE_WIRE_BYTES and sum(many["lengths"]) == len(many["data"])
    assert all(size == [1024, 1024] for size in many["sizes"])  # patch boxes stay in these pixels


def test_text_widgets_send_empty_payloads(monkeypatch):
    use_recording_comms(monkeypatch)
    att = np.full((1, 1, 3, 3), 1 / 3, dtype=np.float32)
    w = AttentionWidget(att, ["a", "b", "c"])
    assert (w._images, w._patches, w._query_patches) == ({}, {}, {})
    assert images_payload([]) == {} and patches_payload("self", np.zeros((0, 6))) == {}


def test_save_offers_the_image_panel_only_where_there_is_a_picture(llava, tmp_path):
    from tests.support.fake_kernel import frontend_custom

    use_recording_comms()
    text = AttentionWidget(np.full((1, 1, 2, 2), 0.5, dtype=np.float32), ["a", "b"])
    with pytest.raises(ValueError, match=r"panel must be one of \['all', 'grid', 'heatmap', 'strip'\], got 'image'"):
        text.save(tmp_path / "picture.png", panel="image")
    w = AttentionWidget.from_capture(llava)
    frontend_custom(w, {"type": "view", "event": "open", "view": "view-a"})
    w.comm.take()
    job = w.save(tmp_path / "picture.png", panel="image")
    sent = [m["data"]["content"] for m in w.comm.take() if m["data"].get("method") == "custom"]
    assert [m["panel"] for m in sent if m["type"] == "export"] == ["image"] and not job.done
