"""Rules Discord enforces on a message body, and which mentions a message really pings.

:func:`validate_message` raises :class:`ApiError` 400/50035 (Invalid Form Body, with
Discord's nested ``errors`` tree) or 400/50006 (empty message).
:func:`compute_pings` applies content + ``allowed_mentions`` + permissions.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from .errors import ApiError, form_error, invalid_form
from .state import Pinged

MAX_CONTENT = 2000
MAX_EMBEDS = 10
MAX_TITLE = 256
MAX_DESCRIPTION = 4096
MAX_FIELDS = 25
MAX_FIELD_NAME = 256
MAX_FIELD_VALUE = 1024
MAX_FOOTER = 2048
MAX_AUTHOR = 256
MAX_EMBED_TOTAL = 6000
MAX_NONCE = 25
PARSE_TYPES = frozenset({"everyone", "roles", "users"})

_USER_MENTION = re.compile(r"<@!?(\d{1,20})>")
_ROLE_MENTION = re.compile(r"<@&(\d{1,20})>")
_EVERYONE = re.compile(r"@(everyone|here)")
_URL_FIELDS = (("url",), ("image", "url"), ("thumbnail", "url"), ("author", "url"))


def _too_long(limit: int) -> dict[str, Any]:
    return form_error("BASE_TYPE_MAX_LENGTH", f"Must be {limit} or fewer in length.")


def _embed_errors(embed: Any) -> tuple[dict[str, Any], int]:
    """Errors of one embed and its character count toward the 6000 total."""
    errors: dict[str, Any] = {}
    if not isinstance(embed, dict):
        return {"_errors": [{"code": "DICT_TYPE_CONVERT", "message": "Only dictionaries"}]}, 0
    total = 0

    def text(value: Any) -> str:
        return value if isinstance(value, str) else ""

    title = text(embed.get("title"))
    description = text(embed.get("description"))
    total += len(title) + len(description)
    if len(title) > MAX_TITLE:
        errors["title"] = _too_long(MAX_TITLE)
    if len(description) > MAX_DESCRIPTION:
        errors["description"] = _too_long(MAX_DESCRIPTION)
    footer = embed.get("footer")
    if isinstance(footer, dict):
        footer_text = text(footer.get("text"))
        total += len(footer_text)
        if len(footer_text) > MAX_FOOTER:
            errors["footer"] = {"text": _too_long(MAX_FOOTER)}
    author = embed.get("author")
    if isinstance(author, dict):
        author_name = text(author.get("name"))
        total += len(author_name)
        if len(author_name) > MAX_AUTHOR:
            errors["author"] = {"name": _too_long(MAX_AUTHOR)}
    fields = embed.get("fields") or []
    if len(fields) > MAX_FIELDS:
        errors["fields"] = form_error(
            "BASE_TYPE_MAX_LENGTH", f"Must be {MAX_FIELDS} or fewer in length."
        )
    else:
        field_errors: dict[str, Any] = {}
        for index, fld in enumerate(fields):
            one: dict[str, Any] = {}
            name = text(fld.get("name")) if isinstance(fld, dict) else ""
            value = text(fld.get("value")) if isinstance(fld, dict) else ""
            total += len(name) + len(value)
            if not name:
                one["name"] = form_error("BASE_TYPE_REQUIRED", "This field is required")
            elif len(name) > MAX_FIELD_NAME:
                one["name"] = _too_long(MAX_FIELD_NAME)
            if not value:
                one["value"] = form_error("BASE_TYPE_REQUIRED", "This field is required")
            elif len(value) > MAX_FIELD_VALUE:
                one["value"] = _too_long(MAX_FIELD_VALUE)
            if one:
                field_errors[str(index)] = one
        if field_errors:
            errors["fields"] = field_errors
    for path in _URL_FIELDS:
        node: Any = embed
        for key in path:
            node = node.get(key) if isinstance(node, dict) else None
        if node is None:
            continue
        if not isinstance(node, str) or not re.match(r"^(https?|attachment)://\S+$", node):
            target = errors
            for key in path[:-1]:
                target = target.setdefault(key, {})
            target[path[-1]] = form_error("URL_TYPE_INVALID_URL", "Not a well formed URL.")
    return errors, total


def validate_message(
    payload: dict[str, Any], *, has_files: bool = False, edit: bool = False
) -> None:
    """Raise ApiError if Discord would refuse this create/edit message body."""
    errors: dict[str, Any] = {}
    content = payload.get("content")
    if content is not None and not isinstance(content, str):
        errors["content"] = form_error("STRING_TYPE_CONVERT", "Could not interpret as string.")
        content = None
    if content is not None and len(content) > MAX_CONTENT:
        errors["content"] = _too_long(MAX_CONTENT)
    embeds = payload.get("embeds") or []
    if not isinstance(embeds, list):
        errors["embeds"] = form_error("LIST_TYPE_CONVERT", "Only iterables may be used.")
        embeds = []
    if len(embeds) > MAX_EMBEDS:
        errors["embeds"] = _too_long(MAX_EMBEDS)
    else:
        total = 0
        embed_errors: dict[str, Any] = {}
        for index, embed in enumerate(embeds):
            one, size = _embed_errors(embed)
            total += size
            if one:
                embed_errors[str(index)] = one
        if total > MAX_EMBED_TOTAL and not embed_errors:
            embed_errors = form_error(
                "MAX_EMBED_SIZE_EXCEEDED", f"Embed size exceeds maximum size of {MAX_EMBED_TOTAL}"
            )
        if embed_errors:
            errors["embeds"] = embed_errors
    nonce = payload.get("nonce")
    if nonce is not None and (
        isinstance(nonce, bool)
        or not isinstance(nonce, str | int)
        or (isinstance(nonce, str) and len(nonce) > MAX_NONCE)
    ):
        errors["nonce"] = form_error("BASE_TYPE_MAX_LENGTH", "Must be 25 or fewer in length.")
    allowed = payload.get("allowed_mentions")
    if allowed is not None:
        errors.update(_allowed_mentions_errors(allowed))
    if errors:
        raise invalid_form(errors)
    if edit:
        return
    empty = (
        not (content or "").strip()
        and not embeds
        and not has_files
        and not payload.get("sticker_ids")
        and not payload.get("components")
        and not payload.get("poll")
        and not payload.get("attachments")
    )
    if empty:
        raise ApiError(400, 50006, "Cannot send an empty message")


def _allowed_mentions_errors(allowed: Any) -> dict[str, Any]:
    if not isinstance(allowed, dict):
        return {"allowed_mentions": form_error("DICT_TYPE_CONVERT", "Only dictionaries")}
    errs: dict[str, Any] = {}
    parse = allowed.get("parse", [])
    if not isinstance(parse, list) or any(p not in PARSE_TYPES for p in parse):
        errs["parse"] = form_error(
            "ENUM_TYPE_COERCE", "Value must be one of {'everyone', 'roles', 'users'}."
        )
        parse = []
    for kind in ("users", "roles"):
        ids = allowed.get(kind)
        if ids is None:
            continue
        if not isinstance(ids, list) or len(ids) > 100:
            errs[kind] = form_error("BASE_TYPE_MAX_LENGTH", "Must be 100 or fewer in length.")
        elif ids and kind in parse:
            errs[kind] = form_error(
                "MESSAGE_ALLOWED_MENTIONS_PARSE_EXCLUSIVE",
                f'parse:["{kind}"] and {kind}: [ids...] are mutually exclusive.',
            )
    return {"allowed_mentions": errs} if errs else {}


def compute_pings(
    content: str,
    allowed_mentions: dict[str, Any] | None,
    *,
    guild_role_ids: Iterable[int],
    mentionable_role_ids: Iterable[int],
    can_mention_everyone: bool,
) -> Pinged:
    """What a message pings: mentioned in content AND allowed AND permitted.

    Without ``allowed_mentions`` Discord parses everything. ``@everyone``/``@here`` need
    Mention Everyone; a role that is not mentionable needs it too.
    """
    if allowed_mentions is None:
        parse = set(PARSE_TYPES)
        users_allowed: set[int] = set()
        roles_allowed: set[int] = set()
    else:
        parse = set(allowed_mentions.get("parse") or [])
        users_allowed = {int(u) for u in allowed_mentions.get("users") or []}
        roles_allowed = {int(r) for r in allowed_mentions.get("roles") or []}
    everyone = bool(_EVERYONE.search(content)) and "everyone" in parse and can_mention_everyone
    users: list[int] = []
    for match in _USER_MENTION.finditer(content):
        uid = int(match.group(1))
        if ("users" in parse or uid in users_allowed) and uid not in users:
            users.append(uid)
    existing = set(guild_role_ids)
    mentionable = set(mentionable_role_ids)
    roles: list[int] = []
    for match in _ROLE_MENTION.finditer(content):
        rid = int(match.group(1))
        if rid not in existing or rid in roles:
            continue
        if not ("roles" in parse or rid in roles_allowed):
            continue
        if rid in mentionable or can_mention_everyone:
            roles.append(rid)
    return Pinged(everyone=everyone, roles=tuple(roles), users=tuple(users))
