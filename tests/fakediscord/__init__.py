"""Loopback fake Discord (placeholder docstring, replaced below)."""

from __future__ import annotations

from . import permissions
from .errors import ApiError
from .faults import FaultRule
from .gateway import GatewayEvent
from .interactions import ChannelOpt, InteractionHandle, RoleOpt, UserOpt
from .permissions import Overwrite
from .ratelimits import Violation
from .rest import RequestRecord, SyncCall
from .server import FakeDiscord, FakeDiscordTimeout
from .state import FakeState, Pinged, StandardGuild, StoredMessage

__all__ = [
    "ApiError",
    "ChannelOpt",
    "FakeDiscord",
    "FakeDiscordTimeout",
    "FakeState",
    "FaultRule",
    "GatewayEvent",
    "InteractionHandle",
    "Overwrite",
    "Pinged",
    "RequestRecord",
    "RoleOpt",
    "StandardGuild",
    "StoredMessage",
    "SyncCall",
    "UserOpt",
    "Violation",
    "permissions",
]
