"""Typed views of cached Discord objects, each with the raw ``dict`` at hand (``.raw``).

Shapes are Discord's (https://discord.com/developers/docs/resources/): ids are ``int`` here
(Discord sends them as strings), every other field is read from ``raw`` on access, and
``obj["field"]`` reads any raw field the view does not name.
"""

from __future__ import annotations

from typing import Any, Optional

__all__ = ["Model", "Guild", "GuildState", "Channel", "Role", "User", "Member", "Presence", "VoiceState", "Message"]


def _id(value: Any) -> Optional[int]:
    return int(value) if value is not None else None


class Model:
    """Base of the views: wraps the raw ``dict``."""

    __slots__ = ("raw",)

    def __init__(self, raw: dict[str, Any]) -> None:
        #: The object as cached (Discord's JSON shape).
        self.raw = raw

    def __getitem__(self, key: str) -> Any:
        return self.raw[key]

    def get(self, key: str, default: Any = None) -> Any:
        """A raw field, or ``default``."""
        return self.raw.get(key, default)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Model) and type(other) is type(self) and other.raw == self.raw

    def __hash__(self) -> int:
        return hash((type(self).__name__, self.raw.get("id")))

    def __repr__(self) -> str:
        name = self.raw.get("name") or self.raw.get("username")
        return f"{type(self).__name__}(id={self.raw.get('id')!r}, name={name!r})"


class Guild(Model):
    """A guild without its collections (read channels, roles, members with the cache)."""

    __slots__ = ()

    @property
    def id(self) -> int:
        return int(self.raw["id"])

    @property
    def name(self) -> str:
        return str(self.raw.get("name", ""))

    @property
    def owner_id(self) -> Optional[int]:
        return _id(self.raw.get("owner_id"))

    @property
    def member_count(self) -> Optional[int]:
        return self.raw.get("member_count")

    @property
    def unavailable(self) -> bool:
        return bool(self.raw.get("unavailable"))


class GuildState(Model):
    """A guild's cache marker and counters, kept by the state worker (not a Discord object)."""

    __slots__ = ()

    @property
    def shard(self) -> Optional[int]:
        """The shard the guild was last received on."""
        return self.raw.get("shard")

    @property
    def generation(self) -> int:
        """The IDENTIFY generation of the shard in which the guild was last sent."""
        return int(self.raw.get("generation", 0))

    @property
    def complete(self) -> bool:
        """The GUILD_CREATE of the shard's current session is applied."""
        return bool(self.raw.get("complete"))

    @property
    def members_chunked(self) -> bool:
        """Every member is cached."""
        return bool(self.raw.get("members_chunked"))

    @property
    def member_count(self) -> Optional[int]:
        """The member count, maintained by GUILD_MEMBER_ADD/REMOVE."""
        return self.raw.get("member_count")

    @property
    def unavailable(self) -> bool:
        """Discord reports the guild unavailable (outage); the data is the last known."""
        return bool(self.raw.get("unavailable"))


class Channel(Model):
    """A guild channel or thread."""

    __slots__ = ()

    @property
    def id(self) -> int:
        return int(self.raw["id"])

    @property
    def name(self) -> Optional[str]:
        return self.raw.get("name")

    @property
    def type(self) -> int:
        return int(self.raw["type"])

    @property
    def guild_id(self) -> Optional[int]:
        return _id(self.raw.get("guild_id"))

    @property
    def parent_id(self) -> Optional[int]:
        return _id(self.raw.get("parent_id"))

    @property
    def position(self) -> Optional[int]:
        return self.raw.get("position")


class Role(Model):
    """A role; ``permissions`` is the bit set as an ``int``."""

    __slots__ = ()

    @property
    def id(self) -> int:
        return int(self.raw["id"])

    @property
    def name(self) -> str:
        return str(self.raw.get("name", ""))

    @property
    def position(self) -> int:
        return int(self.raw.get("position", 0))

    @property
    def permissions(self) -> int:
        return int(self.raw.get("permissions", 0))

    @property
    def color(self) -> int:
        return int(self.raw.get("color", 0))

    @property
    def managed(self) -> bool:
        return bool(self.raw.get("managed"))


class User(Model):
    """A user (global)."""

    __slots__ = ()

    @property
    def id(self) -> int:
        return int(self.raw["id"])

    @property
    def username(self) -> str:
        return str(self.raw.get("username", ""))

    @property
    def global_name(self) -> Optional[str]:
        return self.raw.get("global_name")

    @property
    def bot(self) -> bool:
        return bool(self.raw.get("bot"))

    @property
    def display_name(self) -> str:
        return self.global_name or self.username


class Member(Model):
    """A guild member with its user."""

    __slots__ = ()

    @property
    def user(self) -> User:
        return User(self.raw["user"])

    @property
    def id(self) -> int:
        return int(self.raw["user"]["id"])

    @property
    def nick(self) -> Optional[str]:
        return self.raw.get("nick")

    @property
    def roles(self) -> list[int]:
        return [int(r) for r in self.raw.get("roles", ())]

    @property
    def joined_at(self) -> Optional[str]:
        return self.raw.get("joined_at")

    @property
    def display_name(self) -> str:
        return self.nick or self.user.display_name

    def __repr__(self) -> str:
        return f"Member(id={self.id}, nick={self.nick!r})"


class Presence(Model):
    """A member's presence."""

    __slots__ = ()

    @property
    def user_id(self) -> int:
        return int(self.raw["user"]["id"])

    @property
    def status(self) -> str:
        return str(self.raw.get("status", "offline"))

    @property
    def activities(self) -> list[dict[str, Any]]:
        return list(self.raw.get("activities", ()))


class VoiceState(Model):
    """A member's voice connection."""

    __slots__ = ()

    @property
    def user_id(self) -> int:
        return int(self.raw["user_id"])

    @property
    def channel_id(self) -> Optional[int]:
        return _id(self.raw.get("channel_id"))

    @property
    def guild_id(self) -> Optional[int]:
        return _id(self.raw.get("guild_id"))

    @property
    def self_mute(self) -> bool:
        return bool(self.raw.get("self_mute"))

    @property
    def self_deaf(self) -> bool:
        return bool(self.raw.get("self_deaf"))


class Message(Model):
    """A cached message."""

    __slots__ = ()

    @property
    def id(self) -> int:
        return int(self.raw["id"])

    @property
    def channel_id(self) -> int:
        return int(self.raw["channel_id"])

    @property
    def guild_id(self) -> Optional[int]:
        return _id(self.raw.get("guild_id"))

    @property
    def content(self) -> str:
        return str(self.raw.get("content", ""))

    @property
    def author(self) -> User:
        return User(self.raw["author"])
