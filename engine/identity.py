"""Users, groups and who may do what."""

from __future__ import annotations

import contextlib
import hashlib
import re
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import select

from engine.clock import Clock, system_clock
from engine.db import Database
from engine.db.models import User, UserGroup
from engine.exceptions import AuthenticationError, InvalidRequest, UserNotFound

ADMINS = "admins"
DESIGNERS = "designers"
_NAME = re.compile(r"^[A-Za-z0-9_.@-]{1,64}$")


@dataclass(frozen=True)
class Actor:
    """Someone acting on the engine: a user name and the groups it belongs to."""

    name: str
    groups: frozenset[str] = frozenset()

    @property
    def is_admin(self) -> bool:
        return ADMINS in self.groups

    @property
    def can_deploy(self) -> bool:
        return self.is_admin or DESIGNERS in self.groups


class IdentityService:
    # Verifying an argon2 hash takes tens of milliseconds on purpose. REST clients send Basic
    # credentials with every request, so a successful check is remembered briefly, keyed by a
    # digest of (name, password, stored hash): a password change invalidates it at once.
    VERIFIED_TTL_SECONDS = 300.0

    def __init__(self, database: Database, clock: Clock = system_clock) -> None:
        self.database = database
        self.clock = clock
        self.hasher = PasswordHasher()
        self._verified: dict[str, float] = {}
        self._lock = threading.Lock()

    def add_user(
        self, name: str, password: str, groups: Iterable[str] = (), *, replace: bool = False
    ) -> Actor:
        if not _NAME.match(name):
            raise InvalidRequest(f"user name {name!r} is not valid: use 1-64 letters, digits, _ . @ -")
        if not password:
            raise InvalidRequest("the password must not be empty")
        group_names = sorted({g.strip() for g in groups if g.strip()})
        for group in group_names:
            if not _NAME.match(group):
                raise InvalidRequest(f"group name {group!r} is not valid: use 1-64 letters, digits, _ . @ -")
        with self.database.write() as session:
            user = session.get(User, name)
            if user is not None and not replace:
                raise InvalidRequest(f"user {name!r} exists already")
            if user is None:
                user = User(name=name, password_hash="", created_at=self.clock())
                session.add(user)
            user.password_hash = self.hasher.hash(password)
            user.groups = [UserGroup(user_name=name, group_name=g) for g in group_names]
        return Actor(name, frozenset(group_names))

    def actor(self, name: str) -> Actor:
        with self.database.read() as session:
            user = session.get(User, name)
            if user is None:
                raise UserNotFound(f"no user is named {name!r}", user=name)
            return Actor(user.name, frozenset(g.group_name for g in user.groups))

    def authenticate(self, name: str, password: str) -> Actor:
        with self.database.read() as session:
            user = session.get(User, name)
            if user is None:
                # Spend the same effort as a real check so timing does not reveal user names.
                self._dummy_verify(password)
                raise AuthenticationError()
            key = hashlib.sha256(f"{name}\0{password}\0{user.password_hash}".encode()).hexdigest()
            now = time.monotonic()
            with self._lock:
                fresh = self._verified.get(key, 0.0) > now
            if not fresh:
                try:
                    self.hasher.verify(user.password_hash, password)
                except (VerificationError, InvalidHashError) as err:
                    raise AuthenticationError() from err
                with self._lock:
                    if len(self._verified) > 10_000:
                        self._verified.clear()
                    self._verified[key] = now + self.VERIFIED_TTL_SECONDS
            return Actor(user.name, frozenset(g.group_name for g in user.groups))

    def users(self) -> list[Actor]:
        with self.database.read() as session:
            return [
                Actor(u.name, frozenset(g.group_name for g in u.groups))
                for u in session.scalars(select(User).order_by(User.name))
            ]

    def _dummy_verify(self, password: str) -> None:
        with contextlib.suppress(VerificationError, InvalidHashError):
            self.hasher.verify(_DUMMY_HASH, password)


_DUMMY_HASH = PasswordHasher().hash("flowdesk-dummy-password")
