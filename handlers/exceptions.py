"""Errors of the built-in handlers. Each says what is wrong, where, and what to do."""

from __future__ import annotations

from engine.exceptions import FlowdeskError, InvalidRequest, NotFound


class HandlerInputError(InvalidRequest):
    """A service task gave a built-in handler input it cannot use; fix the process variables."""


class ConfigError(FlowdeskError):
    """A handler configuration file is missing or broken; fix the file or point the setting elsewhere."""


class NotFoundError(NotFound):
    """A record the caller named does not exist."""


class InvalidTransition(InvalidRequest):
    """A record is not in a state that allows this change."""
