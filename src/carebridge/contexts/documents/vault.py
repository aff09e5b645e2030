"""The document store's runtime parts, built once per process from the settings and the server secret.

A `Vault` bundles the blob store (the port), the master keyring and the key that seals server-held signing
keys, so a service function takes one argument for all the secrets it needs and tests can swap the store.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

from fastapi import Depends, Request

from carebridge.contexts.documents.crypto import derive_key
from carebridge.contexts.documents.masterkeys import MasterKeyring
from carebridge.contexts.documents.storage import BlobStore, LocalDirectoryStore
from carebridge.kernel.keys import ServerKeys
from carebridge.settings import Settings

SIGNING_WRAP_PURPOSE = b"document-signing-key-wrap-v1"


@dataclass(frozen=True)
class Vault:
    store: BlobStore
    keyring: MasterKeyring
    signing_wrap_key: bytes  # AES-256 key sealing server-held Ed25519 private keys
    max_bytes: int


def master_key_dir(data_dir: Path) -> Path:
    return data_dir / "keys" / "documents"


def vault_for(settings: Settings, keys: ServerKeys, store: BlobStore | None = None) -> Vault:
    return Vault(store=store or LocalDirectoryStore(settings.data_dir / "documents"),
                 keyring=MasterKeyring(master_key_dir(settings.data_dir)),
                 signing_wrap_key=derive_key(keys.token_secret, SIGNING_WRAP_PURPOSE),
                 max_bytes=settings.document_max_bytes)


def app_vault(state: Any) -> Vault:
    """The app's vault, built on first use (the app's settings and server keys decide its paths and keys);
    the documents API and the FHIR facade share it through `app.state`."""
    vault: Vault | None = getattr(state, "documents_vault", None)
    if vault is None:
        vault = vault_for(state.settings, state.keys)
        state.documents_vault = vault
    return vault


async def get_vault(request: Request) -> Vault:
    return app_vault(request.app.state)


VaultDep = Annotated[Vault, Depends(get_vault)]
