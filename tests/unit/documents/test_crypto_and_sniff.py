"""The document cryptography and type sniffing, without a database: the signed message, envelope sealing,
the master keyring, the local store, and what the first bytes say a file is."""

from __future__ import annotations

import base64
import uuid
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from carebridge.contexts.documents import crypto, sniff
from carebridge.contexts.documents.masterkeys import MasterKeyMissing, MasterKeyring
from carebridge.contexts.documents.storage import BlobNotFound, LocalDirectoryStore, key_for

PATIENT = uuid.UUID("11111111-1111-4111-8111-111111111111")
UPLOADER = uuid.UUID("22222222-2222-4222-8222-222222222222")
AT = datetime(2026, 3, 10, 9, 30, tzinfo=UTC)
PDF = b"%PDF-1.7\n%synthetic lab report\n"
JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00"
PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR"


def _message(**change: object) -> bytes:
    fields: dict[str, object] = {"sha256": crypto.sha256_hex(PDF), "patient_id": PATIENT, "uploader_id": UPLOADER,
                                 "at": AT, "device_id": "tablet-7"}
    fields.update(change)
    return crypto.canonical_message(**fields)  # type: ignore[arg-type]


def test_the_canonical_message_is_fixed_bytes_that_any_client_can_rebuild() -> None:
    expected = (b"carebridge-document-signature-v1\n"
                b"sha256=" + crypto.sha256_hex(PDF).encode() + b"\n"
                b"patient=11111111-1111-4111-8111-111111111111\n"
                b"uploader=22222222-2222-4222-8222-222222222222\n"
                b"time=2026-03-10T09:30:00.000000Z\n"
                b"device=tablet-7\n")
    assert _message() == expected
    # the same instant in another zone is the same message
    assert _message(at=AT.astimezone(timezone(timedelta(hours=5, minutes=30)))) == expected


@pytest.mark.parametrize("change", [
    {"sha256": "0" * 64}, {"patient_id": uuid.uuid4()}, {"uploader_id": uuid.uuid4()},
    {"at": AT + timedelta(microseconds=1)}, {"device_id": "tablet-8"},
])
def test_a_signature_breaks_when_any_signed_fact_changes(change: dict[str, object]) -> None:
    key = Ed25519PrivateKey.generate()
    signature = crypto.sign(key, _message())
    public = crypto.raw_public_key(key)
    assert crypto.verify_signature(public, signature, _message())
    assert not crypto.verify_signature(public, signature, _message(**change))


def test_a_device_id_cannot_smuggle_another_line_and_naive_times_are_refused() -> None:
    with pytest.raises(ValueError, match="line break"):
        _message(device_id="x\npatient=someone")
    with pytest.raises(ValueError, match="time zone"):
        _message(at=datetime(2026, 3, 10, 9, 30))


def test_a_bad_signature_or_key_is_false_not_an_error() -> None:
    assert not crypto.verify_signature(b"\x00" * 31, b"\x00" * 64, b"m")
    assert not crypto.verify_signature(crypto.raw_public_key(Ed25519PrivateKey.generate()), b"short", b"m")


def test_public_keys_are_read_from_pem_or_raw_base64() -> None:
    key = Ed25519PrivateKey.generate().public_key()
    raw = key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    pem = key.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()
    assert crypto.parse_public_key(pem) == raw
    assert crypto.parse_public_key(base64.b64encode(raw).decode()) == raw
    for bad in ("not a key", base64.b64encode(b"too short").decode(), "-----BEGIN PUBLIC KEY-----\nxx\n"):
        with pytest.raises(ValueError):
            crypto.parse_public_key(bad)


def test_sealed_content_opens_only_with_its_key_and_its_associated_data() -> None:
    key, doc = crypto.new_data_key(), uuid.uuid4()
    sealed = crypto.seal(key, PDF, crypto.content_aad(doc))
    assert PDF not in sealed
    assert crypto.open_sealed(key, sealed, crypto.content_aad(doc)) == PDF
    flipped = sealed[:-1] + bytes([sealed[-1] ^ 1])
    for args in ((key, flipped, crypto.content_aad(doc)), (crypto.new_data_key(), sealed, crypto.content_aad(doc)),
                 (key, sealed, crypto.content_aad(uuid.uuid4())), (key, b"tiny", b"")):
        with pytest.raises(crypto.DecryptionFailed):
            crypto.open_sealed(*args)


def test_derived_keys_differ_by_purpose_and_secret() -> None:
    a = crypto.derive_key(b"secret-one", b"purpose-a")
    assert len(a) == 32 and a == crypto.derive_key(b"secret-one", b"purpose-a")
    assert a != crypto.derive_key(b"secret-one", b"purpose-b") != crypto.derive_key(b"secret-two", b"purpose-a")


@pytest.mark.parametrize(("content", "found"), [(PDF, sniff.PDF), (JPEG, sniff.JPEG), (PNG, sniff.PNG)])
def test_the_type_comes_from_the_content(content: bytes, found: str) -> None:
    assert sniff.check(content, filename=None, declared_type=None) == found
    assert sniff.check(content, filename="scan" + sniff.EXTENSION_FOR[found], declared_type=found) == found
    assert sniff.check(content, filename="scan", declared_type="application/octet-stream") == found


def test_unknown_content_is_refused_saying_what_it_starts_with() -> None:
    refusal = sniff.check(b"<script>alert(1)</script>", filename="report.pdf", declared_type="application/pdf")
    assert isinstance(refusal, sniff.Refusal) and refusal.slug == "document-type-unknown"
    assert "3c 73 63 72 69 70 74 3e" in refusal.detail and refusal.found is None
    empty = sniff.check(b"", filename="x.pdf", declared_type=None)
    assert isinstance(empty, sniff.Refusal) and "empty" in empty.detail


def test_a_name_or_declared_type_that_disagrees_with_the_content_is_refused() -> None:
    by_type = sniff.check(PNG, filename="x.png", declared_type="application/pdf")
    assert isinstance(by_type, sniff.Refusal) and by_type.slug == "document-type-mismatch"
    assert "PNG image (image/png) but was declared as application/pdf" in by_type.detail
    by_name = sniff.check(PDF, filename="photo.JPG", declared_type=None)
    assert isinstance(by_name, sniff.Refusal) and by_name.found == sniff.PDF and by_name.declared == ".jpg"
    assert isinstance(sniff.check(PDF, filename="notes.txt", declared_type=None), sniff.Refusal)


def test_the_keyring_makes_one_current_key_and_rotates(tmp_path: Path) -> None:
    ring = MasterKeyring(tmp_path / "keys")
    first_id, first = ring.current()
    assert ring.current() == (first_id, first) and ring.ids() == [first_id]
    assert (tmp_path / "keys" / f"{first_id}.key").stat().st_mode & 0o777 == 0o600
    second_id = ring.create()
    ring.make_current(second_id)
    # another process sees the new pointer
    assert MasterKeyring(tmp_path / "keys").current()[0] == second_id
    ring.retire(first_id)
    assert ring.ids() == [second_id]
    with pytest.raises(MasterKeyMissing):
        MasterKeyring(tmp_path / "keys").get(first_id)
    with pytest.raises(MasterKeyMissing):
        ring.get("../../etc/passwd")


def test_the_local_store_puts_gets_and_deletes_by_key(tmp_path: Path) -> None:
    store = LocalDirectoryStore(tmp_path / "docs")
    key = key_for(uuid.uuid4().hex)
    store.put(key, b"ciphertext")
    assert store.get(key) == b"ciphertext"
    assert store.path(key).stat().st_mode & 0o777 == 0o600
    store.delete(key)
    store.delete(key)  # deleting twice is harmless
    with pytest.raises(BlobNotFound):
        store.get(key)
    with pytest.raises(ValueError):
        store.put("../escape", b"x")
