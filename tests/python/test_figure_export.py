"""w.save without a browser: arguments are checked first, chunks are put back together in order,
and a failed or partial transfer leaves no file (the browser side is tests/browser/test_export_in_chromium.py)."""

from __future__ import annotations

import pytest

from attn_widget import AttentionWidget
from attn_widget.export import figure as figure_export
from tests.support.arrays import TOKENS, softmax_attention
from tests.support.fake_kernel import frontend_custom


@pytest.fixture
def shown(recording) -> AttentionWidget:
    """A widget with one view on screen (the view announces itself as the bundle does)."""
    w = AttentionWidget(softmax_attention(), TOKENS)
    frontend_custom(w, {"type": "view", "event": "open", "view": "view-a"})
    w.comm.take()
    return w


def sent_request(w: AttentionWidget) -> dict:
    [msg] = [m for m in w.comm.take() if m["data"].get("method") == "custom"]
    return msg["data"]["content"]


def chunk(request: dict, index: int, count: int, data: bytes, total: int, view: str = "view-a") -> dict:
    return {
        "type": "export-chunk",
        "id": request["id"],
        "view": view,
        "index": index,
        "count": count,
        "bytes": total,
        "width": 10,
        "height": 5,
    }


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"path": "fig.jpg"}, ValueError, r"path must end in \.png or \.svg.*fig\.jpg"),
        (
            {"path": "fig.png", "panel": "legend"},
            ValueError,
            r"panel must be one of \['all', 'grid', 'heatmap', 'strip'\], got 'legend'",
        ),
        ({"path": "fig.png", "scale": 3}, ValueError, r"scale must be one of \[1, 2, 4\].*got 3"),
        ({"path": "fig.png", "scale": True}, ValueError, r"scale must be one of"),
        ({"path": "no/such/folder/fig.png"}, FileNotFoundError, r"path: the folder .*no/such/folder.* does not exist"),
    ],
)
def test_bad_arguments_are_refused_before_anything_is_sent(shown, tmp_path, kwargs, error, message):
    kwargs = {**kwargs, "path": tmp_path / kwargs["path"]}
    with pytest.raises(error, match=message):
        shown.save(**kwargs)
    assert shown.comm.take() == []
    assert list(tmp_path.iterdir()) == []


def test_chunks_are_joined_in_order_and_written_once_complete(shown, tmp_path):
    job = shown.save(tmp_path / "fig.svg", panel="grid")
    request = sent_request(shown)
    assert request | {"id": "x"} == {"type": "export", "id": "x", "panel": "grid", "format": "svg", "scale": 2}
    data = b"<svg>" + bytes(range(256)) * 10 + b"</svg>"
    parts = [data[:1000], data[1000:2000], data[2000:]]
    for i in (2, 0):  # out of order: a file appears only when every chunk is here
        frontend_custom(shown, chunk(request, i, 3, parts[i], len(data)), [parts[i]])
    assert not job.done and not (tmp_path / "fig.svg").exists()
    frontend_custom(shown, chunk(request, 1, 3, parts[1], len(data)), [parts[1]])
    assert job.result(timeout=0) == tmp_path / "fig.svg"
    assert (tmp_path / "fig.svg").read_bytes() == data
    assert (job.width, job.height) == (10, 5)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["fig.svg"]  # no temporary file left


def test_a_second_view_answering_does_not_mix_its_chunks_in(shown, tmp_path):
    frontend_custom(shown, {"type": "view", "event": "open", "view": "view-b"})
    job = shown.save(tmp_path / "fig.png")
    request = sent_request(shown)
    frontend_custom(shown, chunk(request, 0, 2, b"AA", 4, view="view-a"), [b"AA"])
    frontend_custom(shown, chunk(request, 1, 2, b"ZZ", 4, view="view-b"), [b"ZZ"])
    assert not job.done
    frontend_custom(shown, chunk(request, 1, 2, b"BB", 4, view="view-a"), [b"BB"])
    assert job.result(timeout=0).read_bytes() == b"AABB"


def test_wrong_total_or_a_view_error_fails_the_job_and_leaves_no_file(shown, tmp_path):
    job = shown.save(tmp_path / "a.png")
    request = sent_request(shown)
    frontend_custom(shown, chunk(request, 0, 1, b"abc", 99), [b"abc"])
    with pytest.raises(RuntimeError, match="3 bytes arrived, 99 were sent"):
        job.result(timeout=0)
    job = shown.save(tmp_path / "b.png")
    request = sent_request(shown)
    frontend_custom(shown, {"type": "export-chunk", "id": request["id"], "view": "view-a", "error": "canvas too large"})
    with pytest.raises(RuntimeError, match="canvas too large"):
        job.result(timeout=0)
    assert list(tmp_path.iterdir()) == []


def test_no_view_on_screen_is_a_clear_error_not_a_hang(recording, tmp_path):
    w = AttentionWidget(softmax_attention(), TOKENS)
    with pytest.raises(RuntimeError, match="display the widget first"):
        w.save(tmp_path / "fig.png")
    frontend_custom(w, {"type": "view", "event": "open", "view": "v1"})
    frontend_custom(w, {"type": "view", "event": "close", "view": "v1"})
    with pytest.raises(RuntimeError, match="display the widget first"):
        w.save(tmp_path / "fig.png")


def test_a_view_that_never_answers_times_out_with_a_message(shown, tmp_path, monkeypatch):
    monkeypatch.setattr(figure_export, "ANSWER_TIMEOUT_S", 0.05)
    job = shown.save(tmp_path / "fig.png")
    with pytest.raises(RuntimeError, match="no displayed view answered within 0 s: display the widget"):
        job.result(timeout=5)
    assert "failed" in repr(job)
