"""Numbers <-> bytes for the wire: the dec3 code (js/wire/decode.ts is its twin). Pure numpy.

Every number the browser shows travels in the *dec3* code: a 16-bit unsigned integer that holds a
value rounded to three significant decimal digits (sign, mantissa 100..999, decimal exponent).
Two bytes per value, like float16, but the tooltip string is exact: Python rounds once, the
browser prints the same digits, and ``format_value`` here gives the very same text.

Code layout (little-endian uint16):

* ``0``: exactly zero;
* ``1 + 2 * ((e - E_MIN) * 900 + (m - 100)) + s``: the value ``(-1)**s * m * 10**(e - 2)``;
* ``TINY_POS`` / ``TINY_NEG``: non-zero, magnitude below ``10**E_MIN``;
* ``HUGE_POS`` / ``HUGE_NEG``: magnitude at or above ``10**(E_MAX + 1)``.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor

import numpy as np

E_MIN = -32
E_MAX = 3
_MANTISSAS = 900
TINY_POS = 1 + 2 * (E_MAX - E_MIN + 1) * _MANTISSAS  # 64801
TINY_NEG = TINY_POS + 1
HUGE_POS = TINY_POS + 2
HUGE_NEG = TINY_POS + 3


# Exact powers of ten for the scale 10**(2 - e): multiply by _P[k] and divide by _Q[k], so each
# step is one correctly rounded operation (10**k is exact in float64 up to k = 22).
_K = np.arange(-64, 65)
_P = np.where(_K >= 0, 10.0 ** np.clip(_K, 0, None), 1.0)
_Q = np.where(_K < 0, 10.0 ** np.clip(-_K, 0, None), 1.0)
_CHUNK = 1 << 16  # elements per pass: keeps temporaries in cache, 4-5x faster than one pass


def encode_dec3(values: np.ndarray) -> np.ndarray:
    """Round ``values`` to 3 significant digits and return their uint16 codes (same shape).

    Rounding is half-to-even on the exact binary value, the same as Python's ``format(v, ".3g")``
    (tested against it). NaN and Inf are refused: callers validate first.
    """
    x = np.asarray(values)
    flat = x.astype(np.float32, copy=False).ravel()
    if not np.isfinite(flat).all():
        raise ValueError("encode_dec3: values must be finite (validate the input first)")
    out = np.empty(flat.shape, dtype=np.uint16)

    def run(start: int) -> None:
        out[start : start + _CHUNK] = _encode_sparse(flat[start : start + _CHUNK])

    starts = range(0, flat.size, _CHUNK)
    if len(starts) > 4:  # a head at N >= 512: spread the chunks over the cores (numpy frees the GIL)
        list(_pool().map(run, starts))
    else:
        for start in starts:
            run(start)
    return out.reshape(x.shape)


_POOL: ThreadPoolExecutor | None = None


def _pool() -> ThreadPoolExecutor:
    global _POOL
    if _POOL is None:
        _POOL = ThreadPoolExecutor(max(1, min(4, os.cpu_count() or 1)), thread_name_prefix="attn-widget-encode")
    return _POOL


def _encode_sparse(x: np.ndarray) -> np.ndarray:
    """``_encode_chunk`` on the non-zero values only when zeros are common (the masked half of a
    causal head, or a whole tile above its diagonal): zero's code is 0."""
    nonzero = np.flatnonzero(x)
    if nonzero.size >= 0.75 * x.size:
        return _encode_chunk(x)
    out = np.zeros(x.shape, dtype=np.uint16)
    if nonzero.size:
        out[nonzero] = _encode_chunk(x[nonzero])
    return out


def _encode_chunk(x: np.ndarray) -> np.ndarray:
    a = np.abs(x)
    with np.errstate(divide="ignore"):
        exponent = np.floor(np.log10(a))
    exponent = np.nan_to_num(exponent, neginf=0.0).astype(np.int64)  # zeros are fixed at the end
    a64 = a.astype(np.float64)
    k = np.clip(2 - exponent + 64, 0, 128)
    mantissa = a64 * _P[k] / _Q[k]
    # float32 log10 can land one off near powers of ten: fix the exponent, rescale.
    shift = (mantissa >= 999.5).astype(np.int64) - (mantissa < 99.5)
    exponent += shift
    k = np.clip(k - shift, 0, 128)
    m = np.rint(a64 * _P[k] / _Q[k]).astype(np.int64)
    carry = m >= 1000  # 9.996 -> 10.0
    m -= 900 * carry
    exponent += carry
    sign = np.signbit(x).astype(np.int64)
    code = 1 + 2 * ((exponent - E_MIN) * _MANTISSAS + (m - 100)) + sign
    code = np.where(exponent < E_MIN, TINY_POS + sign, code)
    code = np.where(exponent > E_MAX, HUGE_POS + sign, code)
    code = np.where(a == 0, 0, code)
    return code.astype(np.uint16)


def decode_dec3(codes: np.ndarray) -> np.ndarray:
    """The float64 values of dec3 codes (special codes decode to the range edge or +-inf)."""
    c = np.asarray(codes, dtype=np.int64)
    out = np.zeros(c.shape, dtype=np.float64)
    body = (c >= 1) & (c < TINY_POS)
    idx = (c[body] - 1) // 2
    sign = np.where((c[body] - 1) % 2 == 1, -1.0, 1.0)
    exponent = idx // _MANTISSAS + E_MIN
    m = idx % _MANTISSAS + 100
    out[body] = sign * m * np.power(10.0, exponent - 2)
    out[c == TINY_POS] = 10.0**E_MIN
    out[c == TINY_NEG] = -(10.0**E_MIN)
    out[c == HUGE_POS] = np.inf
    out[c == HUGE_NEG] = -np.inf
    return out


def format_code(code: int) -> str:
    """The text shown for one dec3 code: Python's ``.3g`` of its value (``js/wire/decode.ts`` mirrors it)."""
    c = int(code)
    if c == 0:
        return "0"
    if c in (TINY_POS, TINY_NEG):
        return f"{'-' if c == TINY_NEG else ''}<1e{E_MIN}"
    if c in (HUGE_POS, HUGE_NEG):
        return f"{'-' if c == HUGE_NEG else ''}>=1e+{E_MAX + 1:02d}"
    idx, sign = divmod(c - 1, 2)
    exponent = idx // _MANTISSAS + E_MIN
    digits = str(idx % _MANTISSAS + 100).rstrip("0")
    minus = "-" if sign else ""
    if -4 <= exponent < 3:
        point = exponent + 1  # digits before the decimal point
        if point <= 0:
            text = "0." + "0" * -point + digits
        elif point >= len(digits):
            text = digits + "0" * (point - len(digits))
        else:
            text = digits[:point] + "." + digits[point:]
        return minus + text
    tail = f".{digits[1:]}" if len(digits) > 1 else ""
    return f"{minus}{digits[0]}{tail}e{'-' if exponent < 0 else '+'}{abs(exponent):02d}"


def format_value(value: float) -> str:
    """The text the widget shows for ``value``: equal to ``format(value, ".3g")`` in range."""
    return format_code(int(encode_dec3(np.array([value]))[0]))


def dec3_bytes(values: np.ndarray) -> bytes:
    """Row-major little-endian uint16 dec3 codes of ``values``, ready for a binary buffer."""
    return encode_dec3(values).astype("<u2", copy=False).tobytes(order="C")
