"""The admin two-factor gate lives in the one policy, so every context's admin action obeys it."""

from __future__ import annotations

import uuid

import pytest

from carebridge.kernel.errors import Problem
from carebridge.security import Permission, Principal, Role, require
from carebridge.security.roles import ADMIN_ONLY_PERMISSIONS, ROLE_PERMISSIONS


def test_admin_only_permissions_are_those_no_other_role_holds() -> None:
    for permission in Permission:
        others = any(permission in perms for role, perms in ROLE_PERMISSIONS.items() if role is not Role.admin)
        assert (permission in ADMIN_ONLY_PERMISSIONS) is (not others), permission
    assert Permission.user_manage in ADMIN_ONLY_PERMISSIONS
    assert Permission.patient_read not in ADMIN_ONLY_PERMISSIONS


@pytest.mark.parametrize("permission", sorted(ADMIN_ONLY_PERMISSIONS))
def test_admin_without_second_factor_is_refused_admin_only_permissions(permission: Permission) -> None:
    admin = Principal(user_id=uuid.uuid4(), role=Role.admin, needs_totp=True)
    with pytest.raises(Problem) as caught:
        require(admin, permission)
    assert caught.value.status == 403 and caught.value.slug == "totp-required"
    require(Principal(user_id=uuid.uuid4(), role=Role.admin, mfa=True), permission)


def test_shared_permissions_stay_open_to_an_admin_without_second_factor() -> None:
    require(Principal(user_id=uuid.uuid4(), role=Role.admin, needs_totp=True), Permission.patient_read)
