"""
A workspace's settings in Block Kit: the Settings part of its admins' App Home, the
modal that edits them, and reading that modal's submission. Pure; no I/O.

The modal uses Slack's own pickers (channels and people), so only ids that exist in
the workspace can be chosen; the mention is typed, and checked
(``workspaces.parse_mention``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from bot.slack.blocks import SECTION_LIMIT, cut
from bot.slack.workspaces import WorkspaceSettings, parse_mention

# The App Home button that opens the modal, and the modal's callback id.
EDIT: Final = "settings_edit"
MODAL: Final = "workspace_settings"
# Block ids of the modal's inputs (each block's element has action_id "value").
SUPPORT: Final = "support_channels"
ADMINS: Final = "admin_users"
CHANNEL: Final = "escalation_channel"
MENTION: Final = "escalation_mention"
# Block Kit's limits on a multi-select's initial options.
MAX_PICKS: Final = 100


def _channels(ids: frozenset[str]) -> str:
    return ", ".join(f"<#{c}>" for c in sorted(ids))


def settings_blocks(chosen: WorkspaceSettings) -> list[dict[str, Any]]:
    """
    The Settings part of an admin's App Home: the current values and an Edit button.
    """
    admins = ", ".join(f"<@{u}>" for u in sorted(chosen.admin_users)) or "nobody yet"
    installer = (
        f" (and <@{chosen.installer}>, who installed me)" if chosen.installer else ""
    )
    lines = [
        "*Support channels:* "
        + (_channels(chosen.support_channels) or "every channel I am in"),
        f"*Admins* (/smtpcheck, this desk, these settings): {admins}{installer}",
        "*Escalation channel:* "
        + (
            f"<#{chosen.escalation_channel}>"
            if chosen.escalation_channel
            else "not set: requests for a human reach nobody until you choose one"
        ),
        "*Mention on escalation:* " + (chosen.escalation_mention or "nobody"),
    ]
    return [
        {"type": "header", "text": {"type": "plain_text", "text": "Settings"}},
        {
            "type": "section",
            "text": {"type": "mrkdwn", "text": cut("\n".join(lines), SECTION_LIMIT)},
            "accessory": {
                "type": "button",
                "action_id": EDIT,
                "text": {"type": "plain_text", "text": "Edit settings"},
            },
        },
    ]


def _input(
    block_id: str, label: str, element: dict[str, Any], hint: str
) -> dict[str, Any]:
    return {
        "type": "input",
        "block_id": block_id,
        "optional": True,
        "label": {"type": "plain_text", "text": label},
        "element": {"action_id": "value", **element},
        "hint": {"type": "plain_text", "text": hint},
    }


def settings_modal(chosen: WorkspaceSettings) -> dict[str, Any]:
    """
    The modal that edits a workspace's settings, filled with the current values.
    """
    support: dict[str, Any] = {
        "type": "multi_conversations_select",
        "filter": {"include": ["public", "private"], "exclude_bot_users": True},
    }
    if chosen.support_channels:
        support["initial_conversations"] = sorted(chosen.support_channels)[:MAX_PICKS]
    admins: dict[str, Any] = {"type": "multi_users_select"}
    if chosen.admin_users:
        admins["initial_users"] = sorted(chosen.admin_users)[:MAX_PICKS]
    channel: dict[str, Any] = {
        "type": "conversations_select",
        "filter": {"include": ["public", "private"], "exclude_bot_users": True},
    }
    if chosen.escalation_channel:
        channel["initial_conversation"] = chosen.escalation_channel
    mention: dict[str, Any] = {"type": "plain_text_input", "max_length": 200}
    if chosen.escalation_mention:
        mention["initial_value"] = chosen.escalation_mention
    return {
        "type": "modal",
        "callback_id": MODAL,
        "title": {"type": "plain_text", "text": "smtpbot settings"},
        "submit": {"type": "plain_text", "text": "Save"},
        "close": {"type": "plain_text", "text": "Cancel"},
        "blocks": [
            _input(
                SUPPORT,
                "Support channels",
                support,
                "Where I answer pasted errors. None: every channel I am invited to.",
            ),
            _input(
                ADMINS,
                "Admins",
                admins,
                "Who may run /smtpcheck, see the escalation desk and change these.",
            ),
            _input(
                CHANNEL,
                "Escalation channel",
                channel,
                "Where requests for a human are posted. Invite me there.",
            ),
            _input(
                MENTION,
                "Mention on escalation",
                mention,
                "A user group id (S0123ABCD), a member id (U0123ABCD) or @here.",
            ),
        ],
    }


def _value(state: Mapping[str, Any], block: str) -> Mapping[str, Any]:
    found = (state.get(block) or {}).get("value")
    return found if isinstance(found, Mapping) else {}


def read_submission(
    view: Mapping[str, Any],
) -> tuple[WorkspaceSettings | None, dict[str, str]]:
    """
    The settings a submitted modal chose, or None and the errors to show per block.
    """
    state = (view.get("state") or {}).get("values") or {}
    support = _value(state, SUPPORT).get("selected_conversations") or []
    admins = _value(state, ADMINS).get("selected_users") or []
    channel = _value(state, CHANNEL).get("selected_conversation")
    typed = _value(state, MENTION).get("value") or ""
    try:
        mention = parse_mention(str(typed))
    except ValueError as exc:
        return None, {MENTION: str(exc)}
    # Through the stored form, as every reader sees it (anything not an id dropped).
    chosen = WorkspaceSettings.from_json(
        WorkspaceSettings(
            support_channels=frozenset(str(c) for c in support),
            admin_users=frozenset(str(u) for u in admins),
            escalation_channel=str(channel) if channel else None,
            escalation_mention=mention,
        ).to_json()
    )
    return chosen, {}
