"""The vectorised encodings of bulk writes say exactly what the value-by-value path says: exact texts of
floats, UTC texts, PostgreSQL's binary numeric and timestamp, JSON arrays; and PostgreSQL reads the binary
values as the texts they encode."""

from __future__ import annotations

import io
import json
import math
import struct
from datetime import UTC, datetime, timedelta
from decimal import Decimal, localcontext

import numpy as np
import pytest
import sqlalchemy as sa

from adapters.persistence.bulk import (
    INT4_OID,
    NUMERIC_OID,
    PG_EPOCH_MS,
    TIMESTAMPTZ_OID,
    binary_array,
    binary_copy,
    changes,
    float_texts,
    int4_binary,
    int4_elements,
    numeric_elements,
    text_json_arrays,
    timestamp_elements,
    utc_texts,
)
from adapters.persistence.types import exact_text, exact_texts


def _curve() -> list[float]:
    rng = np.random.default_rng(7)
    values = np.repeat(rng.normal(10_000, 500, 400), rng.integers(1, 6, 400))  # runs of equal values
    values[::37] = np.nan
    values[5::41] = -np.inf
    values[9::53] = 1e-25  # needs rounding to 18 places
    values[11::59] = 0.1 + 0.2
    values[13::61] = -123456789.12345679
    return [float(v) for v in values]


def _texts() -> list[str | None]:
    """Exact texts of every shape: signs, no point, 18 decimals, 20 integer digits, zero, NULL."""
    rng = np.random.default_rng(11)
    out: list[str | None] = [exact_text(Decimal(x)) for x in (
        "0", "-0", "1", "-1", "0.5", "10000", "10000.5", "99999999999999999999.999999999999999999",
        "-12345678901234567890.123456789012345678", "0.000000000000000001", "-0.000000000000000001", "1E+19",
        "123.4560", "7.000000000000000001",
    )]  # fmt: skip
    out.append(None)
    for _ in range(300):
        digits = "".join(str(d) for d in rng.integers(0, 10, int(rng.integers(1, 39))))
        point = int(rng.integers(max(0, len(digits) - 18), min(len(digits), 20) + 1))
        sign = "-" if rng.random() < 0.3 else ""
        out.append(exact_text(Decimal(f"{sign}{digits[:point] or '0'}.{digits[point:] or '0'}")))
    return out


def _decode_numeric(element: bytes) -> Decimal | None:
    """PostgreSQL's numeric_recv, for the test: an int32 length, then ndigits, weight, sign, dscale, digits."""
    (length,) = struct.unpack("!i", element[:4])
    if length == -1:
        return None
    ndigits, weight, sign, dscale = struct.unpack("!hhHh", element[4:12])
    digits = struct.unpack(f"!{ndigits}h", element[12 : 12 + 2 * ndigits])
    assert dscale == 18
    with localcontext(prec=100):
        value = sum(Decimal(d) * Decimal(10000) ** (weight - i) for i, d in enumerate(digits))
        return -value if sign == 0x4000 else value


def test_float_texts_match_exact_texts_value_by_value() -> None:
    values = _curve()
    expected = [exact_texts([v])[0] for v in values]
    assert float_texts(values) == expected
    assert float_texts(np.array(values)) == expected
    assert float_texts([]) == []


def test_changes_start_a_run_where_a_value_differs_and_nan_equals_nan() -> None:
    values = np.array([1.0, 1.0, math.nan, math.nan, 2.0, 2.0, 1.0])
    assert changes(values).tolist() == [True, False, True, False, True, False, True]
    assert changes(np.full(4, math.nan)).tolist() == [True, False, False, False]


def test_utc_texts_write_every_millisecond_like_datetime() -> None:
    rng = np.random.default_rng(3)
    ms = np.sort(rng.integers(0, 253_402_300_799_999, 2000)).astype(np.int64)
    ms[:3] = [0, 86_399_999, 951_782_400_000]  # the epoch, a day's last ms, 2000-02-29
    texts = utc_texts(ms, b"+00")
    assert texts is not None
    epoch = datetime(1970, 1, 1, tzinfo=UTC)
    for value, text in zip(ms.tolist(), texts.tolist(), strict=True):
        when = epoch + timedelta(milliseconds=value)
        assert text.decode() == when.strftime("%Y-%m-%d %H:%M:%S.%f")[:-3] + "+00"
    assert utc_texts(np.array([-1], dtype=np.int64), b"") is None  # before 1970: the caller's slow path


def test_numeric_elements_encode_each_text_exactly() -> None:
    texts = _texts()
    elements, nulls = numeric_elements(texts)
    assert nulls.tolist() == [t is None for t in texts]
    for text, row in zip(texts, elements, strict=True):
        decoded = _decode_numeric(row.tobytes())
        assert decoded == (None if text is None else Decimal(text)), text
    with pytest.raises(ValueError, match="out of range"):
        numeric_elements(["100000000000000000000"])  # 10^20
    with pytest.raises(ValueError, match="out of range"):
        numeric_elements(["0.0000000000000000001"])  # 19 decimals


def test_binary_arrays_leave_out_the_bytes_of_nulls() -> None:
    elements, nulls = numeric_elements(["1.5", None])
    data = binary_array(elements, NUMERIC_OID, nulls)
    assert struct.unpack("!iiiii", data[:20]) == (1, 1, NUMERIC_OID, 2, 1)
    assert len(data) == 20 + elements.shape[1] + 4 and data.endswith(struct.pack("!i", -1))
    stamps = timestamp_elements(np.array([PG_EPOCH_MS + 1], dtype=np.int64))
    assert binary_array(stamps, TIMESTAMPTZ_OID)[20:] == struct.pack("!iq", 8, 1000)
    assert binary_array(int4_elements(np.array([3])), INT4_OID)[20:] == struct.pack("!ii", 4, 3)


def test_json_arrays_are_json_of_the_texts() -> None:
    texts = ["1.5", None, "-0.25", "10"]
    arrays = text_json_arrays(texts, [(0, 3), (3, 4)])
    assert [json.loads(a) for a in arrays] == [["1.5", None, "-0.25"], ["10"]]


def test_postgresql_reads_the_binary_values_as_their_texts(postgres_url: str) -> None:
    texts = _texts()
    rng = np.random.default_rng(5)
    ms = np.sort(rng.integers(-2_000_000_000_000, 4_000_000_000_000, len(texts))).astype(np.int64)
    elements, nulls = numeric_elements(texts)
    row = [
        int4_binary(7), binary_array(timestamp_elements(ms), TIMESTAMPTZ_OID),
        binary_array(elements, NUMERIC_OID, nulls), binary_array(int4_elements(np.arange(len(texts))), INT4_OID),
    ]  # fmt: skip
    engine = sa.create_engine(postgres_url)
    try:
        with engine.begin() as conn:
            conn.exec_driver_sql("CREATE TEMP TABLE t (id int, times timestamptz[], v numeric(38, 18)[], n int4[])")
            cursor = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
            cursor.copy_expert("COPY t FROM STDIN (FORMAT binary)", io.BytesIO(binary_copy([row])))
            got = conn.exec_driver_sql(
                "SELECT id, ARRAY(SELECT (extract(epoch FROM x) * 1000)::int8 FROM unnest(times) x), "
                "ARRAY(SELECT x::text FROM unnest(v) x), n FROM t"
            ).one()
    finally:
        engine.dispose()
    assert got[0] == 7 and got[1] == ms.tolist() and got[3] == list(range(len(texts)))
    assert [None if g is None else Decimal(g) for g in got[2]] == [None if t is None else Decimal(t) for t in texts]
