"""The dec3 wire code: the tooltip text must equal Python's own format(v, ".3g") of the float32."""

import numpy as np
import pytest

from attn_widget.wire.dec3 import (
    E_MAX,
    E_MIN,
    HUGE_NEG,
    HUGE_POS,
    TINY_NEG,
    TINY_POS,
    dec3_bytes,
    decode_dec3,
    encode_dec3,
    format_code,
    format_value,
)


def _values(seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    n = 200_000
    softmaxish = rng.random(n)
    wide = rng.random(n) * 10.0 ** rng.integers(E_MIN + 1, E_MAX + 1, n) * rng.choice([-1, 1], n)
    # exact binary ties at the 4th digit (0.9375 -> "0.938", 0.0625 -> "0.0625") and round numbers
    edges = np.array(
        [0.9375, 0.5, 1.0, 0.125, 0.0625, 0.375, 1.0625, 9.995, 0.09995, 999.5, 99.95, 0.001, 1e-5, 123.0, 12.5, 0.3]
    )
    return np.concatenate([softmaxish, wide, edges, -edges]).astype(np.float32)


def test_text_equals_python_format_for_every_value_in_range():
    values = _values(0)
    values = values[(np.abs(values) >= 10.0**E_MIN) & (np.abs(values) < 9.995 * 10.0**E_MAX)]
    codes = encode_dec3(values)
    mismatches = [(float(v), format_code(c)) for v, c in zip(values, codes) if format_code(c) != format(float(v), ".3g")]
    assert mismatches == []


def test_mostly_zero_values_read_as_python_format_too():
    """The masked half of a causal head, or a tile above its diagonal, is mostly zeros (encoded
    by a shortcut over the non-zeros): every value still reads as format(v, ".3g")."""
    values = _values(2)
    values = values[(np.abs(values) >= 10.0**E_MIN) & (np.abs(values) < 9.995 * 10.0**E_MAX)]
    rng = np.random.default_rng(2)
    values[rng.random(values.size) < 0.8] = 0.0
    values[::101] = -0.0
    codes = encode_dec3(values)
    mismatches = [(float(v), format_code(c)) for v, c in zip(values, codes) if format_code(c) != format(float(v) + 0.0, ".3g")]
    assert mismatches == []


def test_decoded_values_are_within_half_a_unit_in_the_third_digit():
    values = _values(1)
    values = values[(np.abs(values) >= 10.0**E_MIN) & (np.abs(values) < 9.99 * 10.0**E_MAX)]
    decoded = decode_dec3(encode_dec3(values))
    assert np.all(np.abs(decoded - values) <= 0.005 * np.abs(values) * 1.0001)


def test_zero_and_out_of_range_values_have_their_own_codes_and_text():
    codes = encode_dec3(np.array([0.0, -0.0, 1e-40, -1e-40, 5e4, -5e4], dtype=np.float32))
    assert list(codes) == [0, 0, TINY_POS, TINY_NEG, HUGE_POS, HUGE_NEG]
    assert [format_code(c) for c in codes] == ["0", "0", "<1e-32", "-<1e-32", ">=1e+04", "->=1e+04"]
    assert format_value(0.17449) == "0.174"


def test_rounding_up_to_the_next_power_of_ten_carries_the_exponent():
    assert format_value(np.float32(0.09996)) == "0.1" == format(float(np.float32(0.09996)), ".3g")
    assert format_value(np.float32(9.9996e-5)) == "0.0001"


def test_bytes_are_little_endian_uint16_row_major():
    a = np.array([[0.5, 0.25], [0.125, 0.0]], dtype=np.float32)
    raw = dec3_bytes(a)
    assert len(raw) == 8
    assert list(np.frombuffer(raw, dtype="<u2")) == list(encode_dec3(a).ravel())


def test_nan_never_reaches_the_encoder_silently():
    with pytest.raises(ValueError, match="finite"):
        encode_dec3(np.array([np.nan], dtype=np.float32))
