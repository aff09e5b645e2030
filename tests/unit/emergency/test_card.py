"""The signed emergency card: it verifies, any changed character is caught, another key is refused, and it
always fits a QR code."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
import segno
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from carebridge.contexts.emergency.card import (
    HEADER,
    MAX_CARD_BYTES,
    CardContact,
    CardData,
    load_public_key,
    parse_card,
    qr_svg,
    sign_card,
    verify_card,
)

KEY = Ed25519PrivateKey.from_private_bytes(bytes(range(32)))
OTHER = Ed25519PrivateKey.from_private_bytes(bytes(range(1, 33)))
ISSUED = datetime(2026, 3, 10, 9, 30, tzinfo=UTC)


def data(**over: object) -> CardData:
    values: dict[str, object] = dict(
        name="Meera Iyer", birth_date="1990-01-05", blood_group="O+", allergies=["penicillin", "peanuts"],
        conditions=["asthma"], medications=["salbutamol inhaler"],
        contacts=[CardContact("Ravi Iyer", "husband", "+91 98200 22222")], notes="carries an inhaler",
        issued_at=ISSUED)
    values.update(over)
    return CardData(**values)  # type: ignore[arg-type]


def test_round_trip_verifies_and_reads_back() -> None:
    card = sign_card(data(), KEY)
    result = verify_card(card, KEY.public_key())
    assert result.valid, result.reason
    fields = parse_card(card)
    assert card.splitlines()[0] == HEADER
    assert fields["Name"] == ["Meera Iyer"]
    assert fields["Blood"] == ["O+"]
    assert fields["Allergies"] == ["penicillin; peanuts"]
    assert fields["Contact"] == ["Ravi Iyer (husband) +91 98200 22222"]
    assert fields["Issued"] == ["2026-03-10T09:30Z"]


def test_what_a_qr_reader_or_paste_adds_does_not_break_it() -> None:
    card = sign_card(data(), KEY)
    assert verify_card("\ufeff" + card.replace("\n", "\r\n") + "\n\n", KEY.public_key()).valid


def test_every_changed_character_is_caught() -> None:
    card = sign_card(data(), KEY)
    for i, ch in enumerate(card):
        if ch == "\n":
            continue
        tampered = card[:i] + ("x" if ch != "x" else "y") + card[i + 1:]
        assert not verify_card(tampered, KEY.public_key()).valid, f"change at {i} ({ch!r}) went unnoticed"


def test_spare_bits_of_the_last_signature_character_are_not_a_loophole() -> None:
    card = sign_card(data(), KEY)
    last = card[-1]
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    for other in alphabet:
        if other != last:
            assert not verify_card(card[:-1] + other, KEY.public_key()).valid, other


def test_added_or_removed_lines_are_caught() -> None:
    card = sign_card(data(), KEY)
    lines = card.split("\n")
    assert not verify_card("\n".join([*lines[:3], "Blood: AB-", *lines[3:]]), KEY.public_key()).valid
    assert not verify_card("\n".join(lines[:3] + lines[4:]), KEY.public_key()).valid


def test_another_key_is_refused_with_a_reason() -> None:
    result = verify_card(sign_card(data(), KEY), OTHER.public_key())
    assert not result.valid and "different key" in result.reason


def test_a_forged_key_line_does_not_help() -> None:
    """Someone signing with their own key but claiming ours is still refused by the signature."""
    genuine_id = parse_card(sign_card(data(), KEY))["Key"][0]
    forged = sign_card(data(), OTHER).replace(parse_card(sign_card(data(), OTHER))["Key"][0], genuine_id)
    result = verify_card(forged, KEY.public_key())
    assert not result.valid and "bad signature" in result.reason


@pytest.mark.parametrize(("text", "reason"), [
    ("", "not a CareBridge"), ("hello", "not a CareBridge"), (HEADER + "\nName: x", "no signature"),
    (HEADER + "\nName: x\nSig: !!!", "signature"), ("x" * 9000, "too long"),
])
def test_garbage_is_refused_with_a_reason(text: str, reason: str) -> None:
    result = verify_card(text, KEY.public_key())
    assert not result.valid and reason in result.reason


def test_control_characters_and_separators_are_cleaned_before_signing() -> None:
    card = sign_card(data(name="Meera\nIyer", allergies=["a;b", "  ", "c\tc"], notes=None), KEY)
    fields = parse_card(card)
    assert fields["Name"] == ["Meera Iyer"] and fields["Allergies"] == ["a,b; c c"] and "Notes" not in fields
    assert verify_card(card, KEY.public_key()).valid


def test_a_huge_profile_is_trimmed_to_fit_a_qr_code_and_still_verifies() -> None:
    many = [f"item number {i} with a long description" for i in range(20)]
    card = sign_card(data(allergies=many, conditions=many, medications=many, notes="n" * 300), KEY)
    assert len(card.encode()) <= MAX_CARD_BYTES
    assert verify_card(card, KEY.public_key()).valid
    assert "Notes" not in parse_card(card)  # notes go first
    assert segno.make(card, error="m", micro=False).version <= 40


def test_the_qr_code_is_an_svg_of_the_card() -> None:
    svg = qr_svg(sign_card(data(), KEY), title="Emergency card")
    assert svg.startswith("<svg") and "<title>Emergency card</title>" in svg


def test_the_public_key_loads_from_a_public_or_a_private_pem() -> None:
    public_pem = KEY.public_key().public_bytes(serialization.Encoding.PEM,
                                               serialization.PublicFormat.SubjectPublicKeyInfo)
    private_pem = KEY.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                    serialization.NoEncryption())
    card = sign_card(data(), KEY)
    assert verify_card(card, load_public_key(public_pem)).valid
    assert verify_card(card, load_public_key(private_pem)).valid
    with pytest.raises(ValueError):
        load_public_key(b"-----BEGIN PUBLIC KEY-----\nnope\n-----END PUBLIC KEY-----\n")
