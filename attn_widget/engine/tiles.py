"""Tiles of a head's attention at any level of detail, computed in row chunks: nothing N x N is
ever held, and every number is exact.

A tile is a window ``[q0, q1) x [k0, k1)`` of one head pooled into ``br x bc`` blocks (powers of
two). Each block holds the element of largest magnitude it covers (for attention: the largest
weight, so one sharp peak at 32k tokens stays visible) and ``where`` that element sits inside the
block (``row_offset * bc + col_offset``). Blocks of one cell are the exact weights.

The first time a head is asked for, one *full pass* goes over its rows (chunks of a preallocated
buffer, in place: allocating N x chunk logits anew costs more than the arithmetic). It yields each
row's log-sum-exp (N floats, cached for every head), a *base* level of block maxima (at most
BASE_SIDE blocks a side, cached for recent heads) from which every coarser tile is pooled without
touching the model again, and, when asked, each row's entropy and largest off-diagonal weight (the
grid's metrics, grid_scores.py). Finer tiles are recomputed from queries and keys with the cached
log-sum-exp, on the device the layer lives on. A head given as values whose base level is its own
cells (block 1, N <= BASE_SIDE) needs no pass: its base level is the values, shared.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from ..capturing.head_source import HeadSource
from .byte_lru import ByteLRU
from .detectors import DETECTORS
from .grown_pass import reusable_rows, seed_from_prior
from .image_roles import IMAGE_FIELDS
from .row_stats import RowStats, entropy_rows, max_off_logits, max_off_values, role_rows, row_max, safe_lse, sink_terms
from .scratch import scratch

if TYPE_CHECKING:
    import torch

    from .detectors import TokenIds
    from .image_roles import ImageRoles

#: A tile has at most this many blocks (256 x 256): 128 KiB of dec3 codes + 256 KiB of positions.
MAX_TILE_BLOCKS = 256 * 256
#: The base level: the finest power-of-two block size with at most this many blocks a side.
BASE_SIDE = 1024
#: Cells per row chunk (float32): 64 MiB of logits at a time, per thread.
CHUNK_CELLS = 1 << 24
#: Block sizes are powers of two up to this (positions inside a block fit in 32 bits).
MAX_BLOCK = 1 << 15
#: Bytes of base levels kept (least recently used dropped first).
BASE_CACHE_BYTES = 256 * 1024 * 1024

Window = tuple[int, int, int, int]  # q0, q1, k0, k1 (end exclusive)


@dataclass(frozen=True)
class Tile:
    """``values`` (rows, cols) float32 block maxima (exact weights when the block is 1 x 1) and
    ``where`` (rows, cols) uint32 offsets of each maximum inside its block, or None for 1 x 1.
    ``sink``: for a head with a sink (gpt-oss), at cell level, each row's share the sink takes
    (what the row's weights lack of 1), float32 (rows,); else None."""

    window: Window
    block: tuple[int, int]
    values: np.ndarray
    where: np.ndarray | None
    sink: np.ndarray | None = None


@dataclass
class FullPass:
    """What one pass over every row of a head leaves behind."""

    lse: torch.Tensor | None  # (Nq,) on the head's device, logit sources only
    base_block: int
    base_values: np.ndarray  # (ceil(Nq/b), ceil(Nk/b)) float32 block maxima
    base_where: np.ndarray  # offsets inside b x b blocks: uint16 up to 256 x 256 blocks, else uint32
    peak: float  # the largest weight (largest |value| for signed sources)
    stats: RowStats | None  # when metrics were asked for
    shape: tuple[int, int] = (0, 0)  # the head's (Nq, Nk) when the pass ran

    @property
    def nbytes(self) -> int:
        return int(self.base_values.nbytes + self.base_where.nbytes)


def base_block(n_q: int, n_k: int) -> int:
    """The base level's block size: the smallest power of two leaving <= BASE_SIDE blocks a side."""
    b = 1
    while -(-max(n_q, n_k) // b) > BASE_SIDE:
        b *= 2
    return b


def is_power_of_two(n: int) -> bool:
    return n >= 1 and n & (n - 1) == 0


def _pool_last(v: torch.Tensor, f: int, signed: bool) -> tuple[torch.Tensor, torch.Tensor]:
    """Max over groups of ``f`` along the last axis (by magnitude when ``signed``): values, index."""
    shape = (*v.shape[:-1], v.shape[-1] // f, f)
    grouped = v.reshape(shape)
    if not signed:
        return grouped.max(-1)
    _, idx = grouped.abs().max(-1)
    return grouped.gather(-1, idx.unsqueeze(-1)).squeeze(-1), idx


def _pool_last_values(v: torch.Tensor, f: int, signed: bool) -> torch.Tensor:
    """The values of ``_pool_last`` without the positions (several times faster)."""
    grouped = v.reshape(*v.shape[:-1], v.shape[-1] // f, f)
    if not signed:
        return grouped.amax(-1)
    hi, lo = grouped.amax(-1), grouped.amin(-1)
    return torch_where_abs(hi, lo)


def torch_where_abs(hi: torch.Tensor, lo: torch.Tensor) -> torch.Tensor:
    """Per element, whichever of the group's max and min has the larger magnitude (max on ties)."""
    import torch

    return torch.where(lo.abs() > hi.abs(), lo, hi)


def _winner_columns(buf: torch.Tensor, sub_r: torch.Tensor, b: int, signed: bool) -> torch.Tensor:
    return _winner_columns_rect(buf, sub_r, b, b, signed)


def _winner_columns_rect(buf: torch.Tensor, sub_r: torch.Tensor, br: int, bc: int, signed: bool) -> torch.Tensor:
    """For (height, width) ``buf`` pooled into br x bc blocks whose winning row inside each block
    is ``sub_r`` (height/br, width/bc): the winner's column inside its block."""
    height, width = buf.shape
    nbr, nbc = height // br, width // bc
    rows = sub_r + (br * _arange(nbr, buf.device))[:, None]  # (nbr, nbc) rows of buf
    groups = buf.reshape(height, nbc, bc)  # row, block column, offset
    picked = groups[rows, _arange(nbc, buf.device)[None, :]]  # (nbr, nbc, bc)
    return (picked.abs() if signed else picked).argmax(-1)


def _arange(n: int, device: Any) -> torch.Tensor:
    import torch

    return torch.arange(n, device=device)


def _pool_rows(v: torch.Tensor, f: int, signed: bool) -> tuple[torch.Tensor, torch.Tensor]:
    """Max over groups of ``f`` rows (axis 0 of a 2-D tensor): values (R/f, C), index in [0, f)."""
    r, c = v.shape
    grouped = v.reshape(r // f, f, c)
    if not signed:
        return grouped.max(1)
    _, idx = grouped.abs().max(1)
    return grouped.gather(1, idx.unsqueeze(1)).squeeze(1), idx


def _pad_to(v: torch.Tensor, rows: int, cols: int, fill: float) -> torch.Tensor:
    import torch.nn.functional as F

    pr, pc = rows - v.shape[0], cols - v.shape[1]
    return F.pad(v, (0, pc, 0, pr), value=fill) if pr or pc else v


def pool_blocks(
    values: torch.Tensor, inner: torch.Tensor | None, inner_block: tuple[int, int], fr: int, fc: int, signed: bool
) -> tuple[torch.Tensor, torch.Tensor]:
    """Pool (R, C) block maxima by ``fr x fc`` (R, C multiples): the winners and their offsets in
    the new blocks of ``fr*hr x fc*hc`` cells, given each input block's own offset ``inner`` inside
    ``hr x hc`` (None for single cells)."""
    import torch

    hr, hc = inner_block
    v1, sub_c = _pool_last(values, fc, signed)  # (R, C/fc)
    v2, sub_r = _pool_rows(v1, fr, signed)  # (R/fr, C/fc)
    r_out, c_out = v2.shape
    sub_c_sel = sub_c.reshape(r_out, fr, c_out).gather(1, sub_r.unsqueeze(1)).squeeze(1)
    if inner is None:
        ir = torch.zeros_like(sub_r)
        ic = torch.zeros_like(sub_r)
    else:
        # the winning input block's own offset: row r_out*fr + sub_r, column c_out*fc + sub_c_sel
        rows = torch.arange(r_out, device=values.device)[:, None] * fr + sub_r
        cols = torch.arange(c_out, device=values.device)[None, :] * fc + sub_c_sel
        w = inner[rows, cols].long()
        ir, ic = w // hc, w % hc
    row_off = sub_r * hr + ir
    col_off = sub_c_sel * hc + ic
    return v2, row_off * (fc * hc) + col_off


class TileEngine:
    """Full passes, cached log-sum-exps and base levels, and tiles, for the heads of one widget.

    Thread-safe: the grid worker and the kernel's main thread share one engine. ``pause`` is
    called between chunks by background work (it blocks while the main thread has work to do).
    """

    def __init__(self) -> None:
        self._lock = threading.RLock()
        # Log-sum-exps (N floats) and peaks are kept for every head; base levels for recent heads.
        self._lse: dict[Any, Any] = {}
        self._peaks: dict[Any, float] = {}
        self._passes: ByteLRU[FullPass] = ByteLRU(BASE_CACHE_BYTES, lambda p: p.nbytes)
        self._priors: dict[Any, FullPass] = {}  # a growing capture's shorter passes, by head (grown)
        self._head_of: Callable[[Any], Any] = lambda key: key

    # ----------------------------------------------------------------- caches
    def cached_pass(self, key: Any) -> FullPass | None:
        return self._passes.get(key)

    def _remember(self, key: Any, result: FullPass) -> None:
        with self._lock:
            if result.lse is not None:
                self._lse[key] = result.lse
            self._peaks[key] = result.peak
        self._passes.put(key, result)

    def peak(self, key: Any) -> float | None:
        return self._peaks.get(key)  # one dict read: atomic

    def forget(self, match: Callable[[Any], bool]) -> dict[Any, FullPass]:
        """Drop what is cached for keys ``match`` accepts (a new saliency target); returns the passes."""
        with self._lock:
            for cache in (self._lse, self._peaks):
                for key in [k for k in cache if match(k)]:
                    del cache[key]
        return self._passes.forget(match)

    def grown(self, shorter: Callable[[Any], bool], head_of: Callable[[Any], Any]) -> None:
        """A growing capture grew: the passes ``shorter`` accepts become their heads' priors."""
        dropped = self.forget(shorter)
        with self._lock:
            self._head_of = head_of
            self._priors = {head_of(k): p for k, p in dropped.items()}

    # ----------------------------------------------------------------- full passes
    def full_pass(
        self,
        key: Any,
        source: HeadSource,
        *,
        metrics: bool = False,
        square: bool = True,
        ids: TokenIds | None = None,
        images: ImageRoles | None = None,
        pause: Callable[[], None] | None = None,
    ) -> FullPass:
        """One pass over every row of ``source``: log-sum-exp, base level, optional row metrics
        (the detectors need ``ids``, the token ids of a square kind; the image shares
        ``images``, where the kind's image tokens are). Cached; a cached pass
        without metrics is redone when metrics are asked for."""
        hit = self.cached_pass(key)
        if hit is not None and (hit.stats is not None or not metrics):
            return hit
        with self._lock:
            prior = self._priors.pop(self._head_of(key), None)
        result = _full_pass(source, metrics=metrics, square=square, ids=ids, images=images, pause=pause, prior=prior)
        self._remember(key, result)
        return result

    def lse(self, key: Any, source: HeadSource) -> torch.Tensor | None:
        if not source.logits:
            return None
        with self._lock:
            hit = self._lse.get(key)
        return hit if hit is not None else self.full_pass(key, source).lse

    # ----------------------------------------------------------------- tiles
    def tile(self, key: Any, source: HeadSource, window: Window, block: tuple[int, int]) -> Tile:
        """The window pooled into blocks (validated by the caller: protocol.check_tile). A head's
        first tile runs its full pass (the overview and the colour scale need every row anyway)."""
        import torch

        br, bc = block
        done = self.cached_pass(key)
        with self._lock:
            lse, peak = self._lse.get(key), self._peaks.get(key)
        known = peak is not None and (lse is not None or not source.logits)
        if done is None and (not known or (br == bc and br >= base_block(source.n_q, source.n_k))):
            done = self.full_pass(key, source)
            lse = done.lse
        if done is not None and br == bc and br >= done.base_block:
            return _from_base(done, window, br, source.signed)
        with torch.no_grad():
            return _compute_tile(source, lse, window, block)


def _from_base(done: FullPass, window: Window, b: int, signed: bool) -> Tile:
    """A tile of b x b blocks pooled from the cached base level (b a multiple of its block)."""
    import torch

    q0, q1, k0, k1 = window
    b0 = done.base_block
    f = b // b0
    rows_out, cols_out = -(-(q1 - q0) // b), -(-(k1 - k0) // b)
    if f == 1:
        return _cut_base(done, window, b, signed)
    base_v = torch.from_numpy(done.base_values)
    base_w = done.base_where
    r0, c0 = q0 // b0, k0 // b0
    r1, c1 = min(base_v.shape[0], r0 + rows_out * f), min(base_v.shape[1], c0 + cols_out * f)
    fill = 0.0 if signed else float("-inf")
    v = _pad_to(base_v[r0:r1, c0:c1], rows_out * f, cols_out * f, fill)
    w = _pad_to(torch.from_numpy(base_w[r0:r1, c0:c1].astype(np.int64)), rows_out * f, cols_out * f, 0)
    values, where = pool_blocks(v, w, (b0, b0), f, f, signed)
    values = torch.nan_to_num(values, neginf=0.0)
    return Tile(window, (b, b), values.numpy().astype(np.float32), None if b == 1 else where.numpy().astype(np.uint32))


def _cut_base(done: FullPass, window: Window, b: int, signed: bool) -> Tile:
    """A tile at the base level's own block size: its blocks cut out as they are (what pooling by
    1 x 1 gives, without the pooling's copies and gathers: a 256 x 256 tile in 0.2 ms, not 3)."""
    q0, q1, k0, k1 = window
    rows_out, cols_out = -(-(q1 - q0) // b), -(-(k1 - k0) // b)
    r0, c0 = q0 // b, k0 // b
    fill = 0.0 if signed else float("-inf")
    values = np.full((rows_out, cols_out), fill, dtype=np.float32)
    part = done.base_values[r0 : r0 + rows_out, c0 : c0 + cols_out]
    values[: part.shape[0], : part.shape[1]] = part
    values = np.nan_to_num(values, neginf=0.0)
    if b == 1:
        return Tile(window, (1, 1), values, None)
    where = np.zeros((rows_out, cols_out), dtype=np.uint32)
    offsets = done.base_where[r0 : r0 + rows_out, c0 : c0 + cols_out]
    where[: offsets.shape[0], : offsets.shape[1]] = offsets
    return Tile(window, (b, b), values, where)


def _chunk_rows(n_cols: int, multiple: int) -> int:
    return max(multiple, (CHUNK_CELLS // max(1, n_cols)) // multiple * multiple)


def _compute_tile(source: HeadSource, lse: torch.Tensor | None, window: Window, block: tuple[int, int]) -> Tile:
    """A tile straight from the source, in row chunks (lse given for logit sources)."""
    import torch

    q0, q1, k0, k1 = window
    br, bc = block
    rows_out, cols_out = -(-(q1 - q0) // br), -(-(k1 - k0) // bc)
    width = cols_out * bc
    step = _chunk_rows(width, br)
    values = np.empty((rows_out, cols_out), dtype=np.float32)
    where = None if br == bc == 1 else np.empty((rows_out, cols_out), dtype=np.uint32)
    pad = 0.0 if source.signed else float("-inf")
    safe = None if lse is None else safe_lse(lse)
    for r0 in range(q0, q1, step):
        r1 = min(q1, r0 + step)
        height = -(-(r1 - r0) // br) * br
        buf = scratch.get(source.device, 0, height, width)
        kk = min(k1, max(k0, source.key_limit(r0, r1)))
        if kk > k0:
            source.fill(buf[: r1 - r0, : kk - k0], slice(r0, r1), k0, kk)
        buf[: r1 - r0, kk - k0 :].fill_(pad)
        buf[r1 - r0 :].fill_(pad)
        o0 = (r0 - q0) // br
        o1 = o0 + height // br
        if br == bc == 1:
            chunk = buf[: r1 - r0]
            if safe is not None:
                chunk.sub_(safe[r0:r1, None]).exp_()
            values[o0:o1] = chunk.cpu().numpy()
            continue
        v1 = _pool_last_values(buf, bc, source.signed)  # (height, cols_out)
        if safe is not None:
            row_lse = torch.full((height, 1), float("inf"), device=buf.device)
            row_lse[: r1 - r0, 0] = safe[r0:r1]
            v1 = torch.exp(v1 - row_lse)
        v2, sub_r = _pool_rows(v1, br, source.signed)
        sub_c_sel = _winner_columns_rect(buf, sub_r, br, bc, source.signed)
        values[o0:o1] = torch.nan_to_num(v2, neginf=0.0).cpu().numpy()
        where[o0:o1] = (sub_r * bc + sub_c_sel).cpu().numpy().astype(np.uint32)  # type: ignore[index]
    return Tile(window, block, values, where)


def _full_pass(
    source: HeadSource,
    *,
    metrics: bool,
    square: bool,
    ids: TokenIds | None,
    images: ImageRoles | None,
    pause: Callable[[], None] | None,
    prior: FullPass | None = None,  # this head's pass of a shorter capture, extended (grown_pass.py)
) -> FullPass:
    import torch

    if not metrics and not source.logits and base_block(source.n_q, source.n_k) == 1:
        shared = _values_as_base(source)
        if shared is not None:
            return shared
    with torch.no_grad():
        n_q, n_k = source.n_q, source.n_k
        b0 = base_block(n_q, n_k)
        nbr, nbc = -(-n_q // b0), -(-n_k // b0)
        width = nbc * b0
        step = _chunk_rows(width, b0)
        base_v = torch.empty((nbr, nbc), dtype=torch.float32)
        base_w = torch.empty((nbr, nbc), dtype=torch.int64)
        lse = torch.empty(n_q, dtype=torch.float32, device=source.device) if source.logits else None
        entropy = np.empty(n_q, dtype=np.float64) if metrics else None
        max_off = np.empty(n_q, dtype=np.float32) if metrics else None
        found = {name: np.empty(n_q, dtype=np.float64) for name in (*DETECTORS, *IMAGE_FIELDS)} if metrics else {}
        columns = np.zeros(images.n_patches) if metrics and images is not None else None
        id_tensor = ids if square else None
        pad = 0.0 if source.signed else float("-inf")
        start = 0 if metrics else reusable_rows(prior, source, b0)
        if start:
            seed_from_prior(prior, start, base_v, base_w, lse)  # type: ignore[arg-type]
        for r0 in range(start, n_q, step):
            if pause is not None:
                pause()
            r1 = min(n_q, r0 + step)
            c = r1 - r0
            height = -(-c // b0) * b0
            kk = source.key_limit(r0, r1)
            kpad = min(width, -(-kk // b0) * b0) if kk > 0 else b0
            buf = scratch.get(source.device, 0, height, kpad)
            if kk > 0:
                source.fill(buf[:c, :kk], slice(r0, r1), 0, kk)
            buf[:c, kk:].fill_(pad)
            buf[c:].fill_(pad)
            logits = buf[:c, :kk] if kk > 0 else buf[:c, :0]
            # block maxima along keys first (logits or values; no positions yet: finding them for
            # every row costs as much as the matmul), rows pooled once weights are known
            v1 = _pool_last_values(buf, b0, source.signed)  # (height, kpad / b0)
            if source.logits:
                m = row_max(v1[:c], source)
                if metrics:
                    off = max_off_logits(logits, r0, square)
                logits.sub_(m)
                sink = sink_terms(source, m)  # the sink's exp and logit, shifted like the row
                if metrics:
                    logits.clamp_(min=-120.0)  # exp gives exact 0 there, and 0 * t stays finite
                    e = scratch.get(source.device, 1, c, max(kk, 1))[:, :kk]
                    torch.exp(logits, out=e)
                    z = e.sum(-1) if sink is None else e.sum(-1) + sink[0]
                    for name, v in role_rows(e, z, torch.arange(r0, r1), id_tensor, images).items():
                        found[name][r0:r1] = v
                    if columns is not None:
                        columns += images.columns(e, z)  # type: ignore[union-attr]
                    et = e.mul_(logits).sum(-1) if sink is None else e.mul_(logits).sum(-1) + sink[0] * sink[1]
                else:
                    logits.exp_()
                    z = logits.sum(-1) if sink is None else logits.sum(-1) + sink[0]
                row_lse = m[:, 0] + torch.log(z)
                lse[r0:r1] = row_lse  # type: ignore[index]
                safe = safe_lse(row_lse)
                if metrics:
                    ent = torch.where(z > 0, torch.log(z) - et / z, torch.zeros_like(z))
                    entropy[r0:r1] = ent.double().cpu().numpy()  # type: ignore[index]
                    max_off[r0:r1] = torch.exp(off - safe).cpu().numpy()  # type: ignore[index]
                full = torch.full((height, 1), float("inf"), device=buf.device)
                full[:c, 0] = safe
                v1 = torch.exp(v1 - full)
            elif metrics:
                for name, v in role_rows(logits, None, torch.arange(r0, r1), id_tensor, images).items():
                    found[name][r0:r1] = v
                if columns is not None:
                    columns += images.columns(logits, None)  # type: ignore[union-attr]
                block = logits.cpu().numpy()
                entropy[r0:r1] = entropy_rows(block)  # type: ignore[index]
                max_off[r0:r1] = max_off_values(block, r0, square)  # type: ignore[index]
            v2, sub_r = _pool_rows(v1, b0, source.signed)
            # the column inside each block, from the winning row only (in place ops above kept
            # each row's order: exp and subtracting a row constant are monotonic)
            sub_c_sel = _winner_columns(buf, sub_r, b0, source.signed)
            g0, g1 = r0 // b0, r0 // b0 + height // b0
            cols = v2.shape[1]
            base_v[g0:g1, :cols] = torch.nan_to_num(v2, neginf=0.0).cpu()
            base_w[g0:g1, :cols] = (sub_r * b0 + sub_c_sel).cpu()
            base_v[g0:g1, cols:] = 0.0
            base_w[g0:g1, cols:] = 0
        values = base_v.numpy()
        peak = float(np.abs(values).max()) if values.size else 0.0
        stats = RowStats(np.arange(n_q), entropy, max_off, found, columns) if metrics else None  # type: ignore[arg-type]
        # uint16 offsets where they fit: 32 heads' base levels at 32k tokens stay in the cache
        where = base_w.numpy().astype(np.uint16 if b0 * b0 <= 1 << 16 else np.uint32)
        return FullPass(lse, b0, values, where, peak, stats, (n_q, n_k))


def _values_as_base(source: HeadSource) -> FullPass | None:
    """A value head small enough that its base level is its cells (block 1): the base level is
    the values themselves, shared, not a copy (what the pass would compute: the values with
    NaN and -inf as 0, every offset 0). None for sources without a CPU tensor of values."""
    import torch

    values = getattr(source, "values", None)
    if not isinstance(values, torch.Tensor) or values.device.type != "cpu" or values.dtype != torch.float32:
        return None
    array = values.numpy()
    if not np.isfinite(array).all():
        array = np.nan_to_num(array, neginf=0.0)
    peak = float(max(array.max(), -array.min())) if array.size else 0.0
    where = np.broadcast_to(np.zeros((), dtype=np.uint16), array.shape)  # read-only, no memory
    return FullPass(None, 1, array, where, peak, None)


def level_of(block: int) -> int:
    """log2 of a power-of-two block size: the tile's level (0 = exact cells)."""
    return int(math.log2(block))
