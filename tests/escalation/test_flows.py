"""
Escalation flows end to end: signed requests into the real app, the fake Web API, and
a real Redis.
"""

from __future__ import annotations

import asyncio

from bot.escalation.model import Status
from bot.slack import blocks
from bot.slack.escalation import cards as card_ids
from bot.state import ThreadKey
from tests.escalation.conftest import (
    ENTRY,
    ESC_CHANNEL,
    HELPER,
    MENTION,
    OTHER_HELPER,
    DeskBot,
    answered_thread,
    card_value,
    cards,
    shown,
    thread_posts,
    thread_value,
)
from tests.support.kb import STARTTLS_PASTE
from tests.support.slack import BOT_USER, CHANNEL, TEAM, USER, message_event


def key(ts: str) -> str:
    """
    The escalation id of a support thread.
    """
    return str(ThreadKey(TEAM, CHANNEL, ts))


async def test_talk_to_a_human_posts_one_card_with_the_context(
    desk_bot: DeskBot,
) -> None:
    """
    The button posts one card (mention, redacted error, suggestion, link) and tells
    the thread.
    """
    ts = "1700000100.000100"
    await answered_thread(
        desk_bot, ts, STARTTLS_PASTE + "\nAUTH PLAIN dXNlcjpodW50ZXIy"
    )
    assert await desk_bot.click(blocks.HUMAN, thread_value(ts)) == 200
    await desk_bot.settle()
    (card,) = cards(desk_bot.fake)
    text = shown(card)
    assert MENTION in card.args["text"]
    assert MENTION in text
    assert "530 5.7.0 Must issue a STARTTLS command first" in text
    assert "dXNlcjpodW50ZXIy" not in text
    assert ENTRY in text and "starttls-required" in text
    assert f"https://test.slack.com/archives/{CHANNEL}/p" in text
    assert f"<@{USER}>" in text
    assert [a["action_id"] for a in card.args["blocks"][-1]["elements"]] == [
        card_ids.CLAIM,
        card_ids.RESOLVE,
        card_ids.HANDBACK,
    ]
    (permalink,) = desk_bot.fake.of("chat.getPermalink")
    assert (permalink.args["channel"], permalink.args["message_ts"]) == (CHANNEL, ts)
    assert any("asked for a human" in t for t in thread_posts(desk_bot.fake, ts))
    record = await desk_bot.desk.escalations.get(key(ts))
    assert record is not None and record.card_ts is not None
    assert record.card_channel == ESC_CHANNEL


async def test_double_clicks_and_slack_retries_post_one_card(desk_bot: DeskBot) -> None:
    """
    Two clicks at once, then a repeat, give one card; the repeat is told ephemerally.
    """
    ts = "1700000101.000100"
    await answered_thread(desk_bot, ts)
    await asyncio.gather(
        desk_bot.click(blocks.HUMAN, thread_value(ts)),
        desk_bot.click(blocks.HUMAN, thread_value(ts)),
    )
    await desk_bot.settle()
    await desk_bot.click(blocks.HUMAN, thread_value(ts))
    await desk_bot.settle()
    assert len(cards(desk_bot.fake)) == 1
    notices = [t for t in thread_posts(desk_bot.fake, ts) if "asked for a human" in t]
    assert len(notices) == 1
    assert any(
        "already been asked" in c.args["text"]
        for c in desk_bot.fake.of("chat.postEphemeral")
    )
    assert await desk_bot.desk.escalations.pending() == 0


async def test_bot_stays_quiet_in_an_escalated_thread(desk_bot: DeskBot) -> None:
    """
    After escalation a new error pasted in the thread gets no bot reply.
    """
    ts = "1700000102.000100"
    await answered_thread(desk_bot, ts)
    await desk_bot.click(blocks.HUMAN, thread_value(ts))
    await desk_bot.settle()
    before = len(desk_bot.fake.of("chat.postMessage"))
    paste = "535-5.7.8 Username and Password not accepted"
    await desk_bot.send(message_event(paste, thread_ts=ts, ts="1700000102.000200"))
    await desk_bot.settle()
    assert len(desk_bot.fake.of("chat.postMessage")) == before


async def test_no_twice_escalates_once(desk_bot: DeskBot) -> None:
    """
    "Did this help? no" twice in a thread escalates it (and only once).
    """
    ts = "1700000103.000100"
    await answered_thread(desk_bot, ts)
    for _ in range(3):
        await desk_bot.click(blocks.FEEDBACK_NO, thread_value(ts, ENTRY))
        await desk_bot.settle()
    (card,) = cards(desk_bot.fake)
    assert "said twice that the answer did not help" in shown(card)
    assert "not helpful" in shown(card)
    assert any("twice" in t for t in thread_posts(desk_bot.fake, ts))
    record = await desk_bot.desk.escalations.get(key(ts))
    assert record is not None and record.reason == "feedback"


async def test_unmatched_follow_up_escalates(desk_bot: DeskBot) -> None:
    """
    A follow-up error the bot cannot answer after its answer hands the thread over.
    """
    ts = "1700000104.000100"
    await answered_thread(desk_bot, ts)
    follow = "Still failing: Error: quux frobnicator refused the widget"
    await desk_bot.send(message_event(follow, thread_ts=ts, ts="1700000104.000200"))
    await desk_bot.settle()
    (card,) = cards(desk_bot.fake)
    assert "does not know" in shown(card)
    chatter = "thanks, I'll try that"
    await desk_bot.send(message_event(chatter, thread_ts=ts, ts="1700000104.000300"))
    await desk_bot.settle()
    assert len(cards(desk_bot.fake)) == 1


async def test_chatter_follow_up_does_not_escalate(desk_bot: DeskBot) -> None:
    """
    A friendly follow-up with nothing error-like is not a reason to escalate.
    """
    ts = "1700000105.000100"
    await answered_thread(desk_bot, ts)
    await desk_bot.send(
        message_event("thanks, that worked!", thread_ts=ts, ts="1700000105.000200")
    )
    await desk_bot.settle()
    assert cards(desk_bot.fake) == []


async def test_sos_reaction_on_the_original_message_escalates(
    desk_bot: DeskBot,
) -> None:
    """
    The configured reaction on the thread's first message escalates; others do not.
    """
    ts = "1700000106.000100"
    await answered_thread(desk_bot, ts)

    def reaction(name: str, item_ts: str) -> dict[str, object]:
        event = message_event("", ts=item_ts)
        event["event"] = {
            "type": "reaction_added",
            "user": USER,
            "reaction": name,
            "item": {"type": "message", "channel": CHANNEL, "ts": item_ts},
            "item_user": USER,
            "event_ts": item_ts,
        }
        return event

    await desk_bot.send(reaction("thumbsup", ts))
    await desk_bot.send(reaction("sos", "1700000106.000999"))
    await desk_bot.settle()
    assert cards(desk_bot.fake) == []
    await desk_bot.send(reaction("sos", ts))
    await desk_bot.send(reaction("sos", ts))
    await desk_bot.settle()
    (card,) = cards(desk_bot.fake)
    assert "reacted to the original message" in shown(card)


async def test_mention_asking_for_a_human_escalates_once(desk_bot: DeskBot) -> None:
    """
    "@smtpbot human please" (as message and app_mention events) escalates once.
    """
    ts = "1700000107.000100"
    await answered_thread(desk_bot, ts)
    text = f"<@{BOT_USER}> can I talk to a human please?"
    mention_ts = "1700000107.000200"
    await desk_bot.send(message_event(text, thread_ts=ts, ts=mention_ts))
    await desk_bot.send(
        message_event(text, thread_ts=ts, ts=mention_ts, event_type="app_mention")
    )
    await desk_bot.settle()
    (card,) = cards(desk_bot.fake)
    assert "asked the bot for a human" in shown(card)
    notices = [t for t in thread_posts(desk_bot.fake, ts) if "asked for a human" in t]
    assert len(notices) == 1
    assert desk_bot.fake.of("chat.postEphemeral") == []


async def escalated(bot: DeskBot, ts: str) -> None:
    """
    A thread answered and escalated with the button, its card posted.
    """
    await answered_thread(bot, ts)
    await bot.click(blocks.HUMAN, thread_value(ts))
    await bot.settle()
    assert len(cards(bot.fake)) >= 1


async def test_claim_updates_the_card_and_tells_the_thread(desk_bot: DeskBot) -> None:
    """
    Claim edits the card in place (who, when) and tells the asker who took it.
    """
    ts = "1700000108.000100"
    await escalated(desk_bot, ts)
    assert (
        await desk_bot.click(
            card_ids.CLAIM, card_value(ts), user=HELPER, channel=ESC_CHANNEL
        )
        == 200
    )
    await desk_bot.settle()
    (update,) = desk_bot.fake.of("chat.update")
    assert update.args["channel"] == ESC_CHANNEL
    record = await desk_bot.desk.escalations.get(key(ts))
    assert record is not None and update.args["ts"] == record.card_ts
    assert f"*Claimed* by <@{HELPER}>" in shown(update)
    actions = [a["action_id"] for a in update.args["blocks"][-1]["elements"]]
    assert actions == [card_ids.RESOLVE, card_ids.HANDBACK]
    assert any(
        f"<@{HELPER}>" in t and "taken" in t for t in thread_posts(desk_bot.fake, ts)
    )
    record = await desk_bot.desk.escalations.get(key(ts))
    assert record is not None
    assert (record.status, record.claimed_by) == (Status.CLAIMED, HELPER)
    assert record.claimed_at == desk_bot.clock.now
    metrics = desk_bot.desk.metrics
    assert metrics.escalations.labels("button")._value.get() == 1
    text = metrics.render().decode()
    assert "smtpbot_escalation_claim_seconds_count 1.0" in text


async def test_open_escalations_gauge_follows_the_store(desk_bot: DeskBot) -> None:
    """
    The background loop publishes how many escalations are open.
    """
    await escalated(desk_bot, "1700000109.000100")
    stop = asyncio.Event()
    loop = asyncio.create_task(desk_bot.desk.run(desk_bot.app.client, stop, period=5))
    await asyncio.sleep(0.3)
    stop.set()
    await loop
    assert desk_bot.desk.metrics.escalations_open._value.get() == 1


async def test_concurrent_claims_one_wins_the_other_is_told(desk_bot: DeskBot) -> None:
    """
    Two people clicking Claim at once: one wins, the other hears who has it.
    """
    ts = "1700000109.000100"
    await escalated(desk_bot, ts)
    await asyncio.gather(
        desk_bot.click(
            card_ids.CLAIM, card_value(ts), user=HELPER, channel=ESC_CHANNEL
        ),
        desk_bot.click(
            card_ids.CLAIM, card_value(ts), user=OTHER_HELPER, channel=ESC_CHANNEL
        ),
    )
    await desk_bot.settle()
    record = await desk_bot.desk.escalations.get(key(ts))
    assert record is not None and record.claimed_by in {HELPER, OTHER_HELPER}
    loser = OTHER_HELPER if record.claimed_by == HELPER else HELPER
    (told,) = desk_bot.fake.of("chat.postEphemeral")
    assert told.args["user"] == loser
    assert told.args["channel"] == ESC_CHANNEL
    assert f"Already claimed by <@{record.claimed_by}>" in told.args["text"]
    assert len(desk_bot.fake.of("chat.update")) == 1
    taken = [t for t in thread_posts(desk_bot.fake, ts) if "taken" in t]
    assert len(taken) == 1


async def test_claim_and_resolve_clicked_together_are_both_applied_at_once(
    desk_bot: DeskBot,
) -> None:
    """
    Claim and Resolve clicked at the same moment: whichever delivery runs second
    waits for the first rather than leaving its edit to a takeover a minute later.
    The card ends resolved, the thread is told once who took it, nothing is pending.
    """
    ts = "1700000109.000500"
    await escalated(desk_bot, ts)
    await asyncio.gather(
        desk_bot.click(
            card_ids.CLAIM, card_value(ts), user=HELPER, channel=ESC_CHANNEL
        ),
        desk_bot.click(
            card_ids.RESOLVE, card_value(ts), user=OTHER_HELPER, channel=ESC_CHANNEL
        ),
    )
    await desk_bot.settle()
    record = await desk_bot.desk.escalations.get(key(ts))
    assert record is not None and record.status == Status.RESOLVED
    assert record.card_shows == Status.RESOLVED
    last = desk_bot.fake.of("chat.update")[-1]
    assert f"*Resolved* by <@{OTHER_HELPER}>" in shown(last)
    if record.claimed_by:
        taken = [t for t in thread_posts(desk_bot.fake, ts) if "taken" in t]
        assert len(taken) == 1
    assert await desk_bot.desk.escalations.pending() == 0


async def test_resolve_records_who_and_keeps_the_thread_quiet(
    desk_bot: DeskBot,
) -> None:
    """
    Resolve edits the card (who, after how long), and the bot stays quiet afterwards.
    """
    ts = "1700000110.000100"
    await escalated(desk_bot, ts)
    await desk_bot.click(
        card_ids.CLAIM, card_value(ts), user=HELPER, channel=ESC_CHANNEL
    )
    desk_bot.clock.advance(3900)
    await desk_bot.click(
        card_ids.RESOLVE, card_value(ts), user=HELPER, channel=ESC_CHANNEL
    )
    await desk_bot.settle()
    last = desk_bot.fake.of("chat.update")[-1]
    assert f"*Resolved* by <@{HELPER}>" in shown(last) and "after 1 h 5 min" in shown(
        last
    )
    assert "actions" not in [b["type"] for b in last.args["blocks"]]
    record = await desk_bot.desk.escalations.get(key(ts))
    assert record is not None and record.status == Status.RESOLVED
    assert record.closed_by == HELPER
    ttl = await desk_bot.store.client.ttl(desk_bot.desk.escalations.record_key(key(ts)))
    assert 0 < ttl <= 3600
    assert await desk_bot.desk.escalations.active() == []
    before = len(desk_bot.fake.of("chat.postMessage"))
    await desk_bot.send(
        message_event(STARTTLS_PASTE, thread_ts=ts, ts="1700000110.0003")
    )
    await desk_bot.settle()
    assert len(desk_bot.fake.of("chat.postMessage")) == before
    await desk_bot.click(
        card_ids.RESOLVE, card_value(ts), user=OTHER_HELPER, channel=ESC_CHANNEL
    )
    await desk_bot.settle()
    assert (
        "Already resolved by" in desk_bot.fake.of("chat.postEphemeral")[-1].args["text"]
    )


async def test_hand_back_returns_the_thread_to_the_bot(desk_bot: DeskBot) -> None:
    """
    Hand back edits the card, tells the thread, and the bot answers there again.
    """
    ts = "1700000111.000100"
    await escalated(desk_bot, ts)
    await desk_bot.click(
        card_ids.HANDBACK, card_value(ts), user=HELPER, channel=ESC_CHANNEL
    )
    await desk_bot.settle()
    assert "*Handed back to the bot* by" in shown(desk_bot.fake.of("chat.update")[-1])
    assert any("handed this thread back" in t for t in thread_posts(desk_bot.fake, ts))
    before = len(desk_bot.fake.of("chat.postMessage"))
    paste = "535-5.7.8 Username and Password not accepted"
    await desk_bot.send(message_event(paste, thread_ts=ts, ts="1700000111.000300"))
    await desk_bot.fake.wait_for("chat.postMessage", before + 1)
    record = await desk_bot.desk.escalations.get(key(ts))
    assert record is not None and record.status == Status.HANDED_BACK


async def test_after_a_hand_back_the_thread_can_ask_for_a_human_again(
    desk_bot: DeskBot,
) -> None:
    """
    A thread handed back to the bot is not "already asked": asking for a human again
    opens a new escalation with a new card (quickly, so the old card is within the
    window where a replica looks for a card it posted) and the thread is told so;
    while that one is open, a further ask is still "already asked".
    """
    ts = "1700000112.000100"
    await escalated(desk_bot, ts)
    await desk_bot.click(
        card_ids.HANDBACK, card_value(ts), user=HELPER, channel=ESC_CHANNEL
    )
    await desk_bot.settle()
    first_cards = len(cards(desk_bot.fake))
    desk_bot.clock.advance(30)
    await desk_bot.click(blocks.HUMAN, thread_value(ts))
    await desk_bot.settle()
    assert len(cards(desk_bot.fake)) == first_cards + 1
    assert "I've let the support team know" in thread_posts(desk_bot.fake, ts)[-1]
    assert not any(
        "already been asked" in c.args["text"]
        for c in desk_bot.fake.of("chat.postEphemeral")
    )
    record = await desk_bot.desk.escalations.get(key(ts))
    assert record is not None and record.status == Status.OPEN
    assert [e.id for e in await desk_bot.desk.escalations.active()] == [key(ts)]
    await desk_bot.click(blocks.HUMAN, thread_value(ts))
    await desk_bot.settle()
    assert (
        "already been asked" in desk_bot.fake.of("chat.postEphemeral")[-1].args["text"]
    )
    assert len(cards(desk_bot.fake)) == first_cards + 1
