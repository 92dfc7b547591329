"""Both languages say the same things, and the page picks the customer's."""

from __future__ import annotations

import string

from starter.pay_text import TEXT, pick_lang, plain_refusal


def fields(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}


def test_swedish_and_english_have_the_same_words_with_the_same_blanks() -> None:
    assert TEXT["sv"].keys() == TEXT["en"].keys()
    for key in TEXT["sv"]:
        assert fields(TEXT["sv"][key]) == fields(TEXT["en"][key]), key


def test_the_language_is_the_first_one_we_speak() -> None:
    assert pick_lang(None, "en-GB,en;q=0.9") == "en"
    assert pick_lang("sv", "en") == "sv"
    assert pick_lang("de", "fr-FR, en;q=0.5") == "en"
    assert pick_lang(None, None) == "sv"


def test_a_known_refusal_is_translated_and_an_unknown_one_kept() -> None:
    reason = "promise_date 2026-01-01 is in the past (today is 2026-12-03)"
    assert plain_refusal(reason, "sv") == "datumet har redan passerat."
    assert plain_refusal("something new", "en") == "something new"
