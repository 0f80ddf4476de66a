from __future__ import annotations

import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from itsdangerous import TimestampSigner

from kxt_middleware.cookies import SignedCookie, secret_keys

YEAR = 365 * 24 * 3600


def cookie(**options: object) -> SignedCookie:
    options.setdefault("secret_key", "k1")
    options.setdefault("salt", "kxt.current-contact")
    options.setdefault("max_age", YEAR)
    return SignedCookie("CurrentContact", **options)  # type: ignore[arg-type]


def signed_value(header: str) -> str:
    """The cookie value from a Set-Cookie header value."""
    return header.split(";", 1)[0].split("=", 1)[1]


CODEC = cookie()
GUID = "5e17d50fee5c46ffbf8aa00ec6f28b54"
VALID = signed_value(CODEC.dump(GUID, secure=False))


def test_round_trip() -> None:
    loaded = CODEC.load(VALID)
    assert loaded is not None and loaded.value == GUID and not loaded.reissue


def test_header_flags() -> None:
    header = CODEC.dump(GUID, secure=False)
    assert header.startswith("CurrentContact=")
    assert "HttpOnly" in header and "SameSite=Lax" in header and "Path=/" in header
    assert "Secure" not in header
    assert "; Secure" in CODEC.dump(GUID, secure=True)
    strict = cookie(same_site="strict", domain="example.com", path="/shop")
    header = strict.dump(GUID, secure=False)
    assert "SameSite=Strict" in header and "Domain=example.com" in header
    assert "Path=/shop" in header
    assert "; Secure" in cookie(https_only=True).dump(GUID, secure=False)


def test_delete_header_expires_the_cookie() -> None:
    header = CODEC.delete(secure=False)
    assert header.startswith('CurrentContact="";') and "Max-Age=0" in header


def test_same_site_none_needs_https_only() -> None:
    with pytest.raises(ValueError, match="needs https_only=True"):
        cookie(same_site="none")
    assert "SameSite=None; Secure" in cookie(same_site="none", https_only=True).dump(
        GUID, secure=False
    )


def test_bad_configuration() -> None:
    with pytest.raises(ValueError, match="same_site must be"):
        cookie(same_site="sometimes")
    with pytest.raises(ValueError, match="max_age"):
        cookie(max_age=0)
    for bad in ("", [], ["ok", ""], [b"bytes"], 123, b"bytes", None):
        with pytest.raises(ValueError, match="secret_key must be"):
            secret_keys(bad)  # type: ignore[arg-type]


def test_missing_or_malformed_reads_as_absent() -> None:
    for raw in (None, "", "nodots", "a.b", "a.b.c", VALID + ".", "." + VALID, VALID + "é"):
        assert CODEC.load(raw) is None


def test_foreign_purpose_or_key_reads_as_absent() -> None:
    other_salt = signed_value(cookie(salt="kxt.cookie-level").dump(GUID, secure=False))
    assert CODEC.load(other_salt) is None
    other_key = signed_value(cookie(secret_key="someone-else").dump(GUID, secure=False))
    assert CODEC.load(other_key) is None


def test_rotation_accepts_old_key_and_asks_for_reissue() -> None:
    rotated = cookie(secret_key=["k1", "k2"])
    loaded = rotated.load(VALID)
    assert loaded is not None and loaded.value == GUID and loaded.reissue
    fresh = signed_value(rotated.dump(GUID, secure=False))
    assert rotated.load(fresh) == type(loaded)(GUID, reissue=False)
    assert CODEC.load(fresh) is None  # the old key alone cannot read new cookies


def _signed_at(
    codec: SignedCookie, value: str, moment: float, monkeypatch: pytest.MonkeyPatch
) -> str:
    with monkeypatch.context() as patch:
        patch.setattr(TimestampSigner, "get_timestamp", lambda self: int(moment))
        return signed_value(codec.dump(value, secure=False))


def test_expired_reads_as_absent(monkeypatch: pytest.MonkeyPatch) -> None:
    short = cookie(max_age=100)
    assert short.load(_signed_at(short, GUID, time.time() - 101, monkeypatch)) is None
    young = short.load(_signed_at(short, GUID, time.time() - 10, monkeypatch))
    assert young is not None and not young.reissue


def test_a_time_stamp_from_the_future_reads_as_absent(monkeypatch: pytest.MonkeyPatch) -> None:
    assert CODEC.load(_signed_at(CODEC, GUID, time.time() + 3600, monkeypatch)) is None
    skewed = CODEC.load(_signed_at(CODEC, GUID, time.time() + 60, monkeypatch))
    assert skewed is not None and not skewed.reissue


def test_past_half_life_asks_for_reissue(monkeypatch: pytest.MonkeyPatch) -> None:
    short = cookie(max_age=100)
    loaded = short.load(_signed_at(short, GUID, time.time() - 60, monkeypatch))
    assert loaded is not None and loaded.reissue


def test_a_cookie_read_again_ages(monkeypatch: pytest.MonkeyPatch) -> None:
    short = cookie(max_age=100)
    now = time.time()
    raw = _signed_at(short, GUID, now - 10, monkeypatch)
    assert short.load(raw) == (GUID, False)
    monkeypatch.setattr(time, "time", lambda: now + 45)  # 55 s old: past half its life
    assert short.load(raw) == (GUID, True)
    monkeypatch.setattr(time, "time", lambda: now + 91)
    assert short.load(raw) is None
    rotated = cookie(max_age=100, secret_key=["k0", "k1"])  # signed with the older key
    old_key = _signed_at(cookie(max_age=100, secret_key="k0"), GUID, now + 90, monkeypatch)
    assert rotated.load(old_key) == (GUID, True)  # young, but to be signed with the newest key
    assert rotated.load(raw) is None  # expired, although verified by the newest key


ALPHABET = st.characters(codec="ascii", exclude_categories=("Cc",))


@settings(max_examples=400)
@given(position=st.integers(min_value=0), replacement=ALPHABET)
def test_no_substituted_character_is_accepted(position: int, replacement: str) -> None:
    index = position % len(VALID)
    mutated = VALID[:index] + replacement + VALID[index + 1 :]
    if mutated != VALID:
        assert CODEC.load(mutated) is None


@settings(max_examples=300)
@given(position=st.integers(min_value=0), text=st.text(ALPHABET, min_size=1, max_size=4))
def test_no_insertion_or_deletion_is_accepted(position: int, text: str) -> None:
    index = position % (len(VALID) + 1)
    inserted = VALID[:index] + text + VALID[index:]
    deleted = VALID[:index] + VALID[index + len(text) :]
    for mutated in (inserted, deleted):
        if mutated != VALID:
            assert CODEC.load(mutated) is None


@settings(max_examples=300)
@given(st.text(max_size=120))
def test_arbitrary_text_is_never_accepted(raw: str) -> None:
    assert CODEC.load(raw) is None


@settings(max_examples=200)
@given(st.text(st.characters(codec="ascii", categories=("L", "N")), min_size=1, max_size=64))
def test_any_value_round_trips(value: str) -> None:
    loaded = CODEC.load(signed_value(CODEC.dump(value, secure=False)))
    assert loaded is not None and loaded.value == value
