"""Contact rules in every pack: never more calls than the law allows, opt-out and opt-in
words, consent per channel, and when a handover is refused."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from domain.contact_rules import (
    call_allowed,
    channel_refusal,
    classify_keyword,
    handover_refusal,
    is_opt_in,
    is_opt_out,
    mentions_opt_out,
    opt_out_line,
)
from domain.jurisdiction import SE, US

PROPERTY = settings(max_examples=200, deadline=None, derandomize=True, database=None)
NOW = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)


# --- calls -----------------------------------------------------------------------------------


@PROPERTY
@given(
    st.lists(
        st.tuples(st.integers(min_value=0, max_value=3 * 86400), st.booleans()),
        min_size=1,
        max_size=40,
    )
)
def test_never_more_than_seven_calls_in_seven_days(wishes: list[tuple[int, bool]]) -> None:
    """Drive a journey that wants to call as often as it likes through `call_allowed`."""
    placed: list[datetime] = []
    conversations: list[datetime] = []
    now = NOW
    for gap, answered in wishes:
        now += timedelta(seconds=gap)
        ok, earliest = call_allowed(placed, conversations[-1] if conversations else None, now, US)
        if not ok:
            assert earliest is not None and earliest > now
            before, _ = call_allowed(
                placed,
                conversations[-1] if conversations else None,
                earliest - timedelta(microseconds=1),
                US,
            )
            assert not before  # `earliest` really is the earliest
            now = earliest
            ok, earliest = call_allowed(
                placed, conversations[-1] if conversations else None, now, US
            )
        assert ok and earliest is None
        placed.append(now)
        if answered:
            conversations.append(now)
    for start in placed:
        in_week = [c for c in placed if start <= c <= start + timedelta(days=7)]
        assert len(in_week) <= 7
    for talk in conversations:
        assert not [c for c in placed if talk < c <= talk + timedelta(days=7)]


def test_call_limit_examples() -> None:
    six = [NOW - timedelta(days=1, hours=h) for h in range(6)]
    assert call_allowed(six, None, NOW, US) == (True, None)
    seven = [*six, NOW - timedelta(days=6)]
    ok, earliest = call_allowed(seven, None, NOW, US)
    assert not ok
    assert earliest == NOW - timedelta(days=6) + timedelta(days=7, hours=1)
    ok, earliest = call_allowed([], NOW - timedelta(days=2), NOW, US)
    assert not ok and earliest == NOW + timedelta(days=5, hours=1)
    assert call_allowed(seven, NOW, NOW, SE) == (True, None)


# --- channels, opt-out -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "STOP",
        "stop",
        " Stop. ",
        "Quit",
        "CANCEL!",
        "unsubscribe",
        "End",
        "STOPALL",
        "stop all",
        "revoke",
        "OPTOUT",
        "opt out",
        "Opt-Out",
    ],
)
def test_opt_out_words(text: str) -> None:
    assert is_opt_out(text, US)
    assert is_opt_out(text)
    assert classify_keyword(text, US) == "opt_out"


@pytest.mark.parametrize("text", ["START", "unstop", "Yes"])
def test_opt_in_words(text: str) -> None:
    assert is_opt_in(text, US)
    assert not is_opt_out(text)


def test_swedish_words_count_in_the_swedish_pack() -> None:
    assert is_opt_out("Stopp", SE)
    assert not is_opt_out("Stopp", US)
    assert is_opt_out("Stopp")  # no pack: any pack's word counts
    assert classify_keyword("hjälp", SE) == "help"


@pytest.mark.parametrize(
    ("text", "mentions"),
    [
        ("Please stop texting me", True),
        ("I will pay at the end of the month", True),
        ("Can I opt out of these?", True),
        ("I paid yesterday", False),
        ("Stopped by the bank", False),
    ],
)
def test_longer_messages_are_for_a_person(text: str, mentions: bool) -> None:
    assert not is_opt_out(text)
    assert mentions_opt_out(text) == mentions


@PROPERTY
@given(
    st.sampled_from(sorted(US.opt_out_words)),
    st.lists(st.booleans(), min_size=12, max_size=12),
    st.sampled_from(["", " ", ".", "!", "\n"]),
    st.sampled_from(["", " ", "  "]),
)
def test_opt_out_ignores_case_and_punctuation(
    word: str, upper: list[bool], suffix: str, prefix: str
) -> None:
    mixed = "".join(c.upper() if u else c.lower() for c, u in zip(word, upper, strict=False))
    text = prefix + mixed + suffix
    assert is_opt_out(text, US)
    assert mentions_opt_out(text, US)


@PROPERTY
@given(st.text(max_size=40))
def test_an_opt_out_keyword_is_always_also_a_mention(text: str) -> None:
    if is_opt_out(text, US):
        assert mentions_opt_out(text, US)


def test_us_messages_carry_an_opt_out_line() -> None:
    for channel in ("email", "sms"):
        for locale in ("en", "sv"):
            line = opt_out_line(channel, locale, US)
            assert line is not None and "STOP" in line
    assert opt_out_line("call", "en", US) is None
    assert opt_out_line("sms", "sv", SE) is None


def test_sms_needs_consent_in_the_us() -> None:
    assert channel_refusal("sms", False, US) == "US allows sms only with the customer's consent"
    assert channel_refusal("sms", True, US) is None
    assert channel_refusal("email", False, US) is None


# --- handover ---------------------------------------------------------------------------------


def test_handover_refusals() -> None:
    wait = timedelta(days=10)
    sent = NOW - timedelta(days=11)
    assert handover_refusal(disputed=False, final_notice_at=sent, now=NOW, waiting=wait) is None
    disputed = handover_refusal(disputed=True, final_notice_at=sent, now=NOW, waiting=wait)
    assert disputed is not None and "disputed" in disputed
    assert handover_refusal(disputed=False, final_notice_at=None, now=NOW, waiting=wait)
    early = handover_refusal(
        disputed=False, final_notice_at=NOW - timedelta(days=2), now=NOW, waiting=wait
    )
    assert early is not None and "waiting time" in early
