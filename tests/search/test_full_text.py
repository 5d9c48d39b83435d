"""GET /api/audit-trail/records?search=...: the full-text search as a user sees it, on both
databases.

A word is a run of letters and digits; a search finds words whole (`refund`), by prefix
(`refund*`), as a phrase (`"card declined"`: in order, adjacent), all of its terms together, and
without the excluded ones (`-test`). An identifier (`INV-1042`, `alice@example.com`, `10.0.0.7`,
a UUID) is the phrase of its words: found whole and by its parts. Each test posts a few records
of its own and names the records a search must find; a record it did not post shows by its
event type (the set-up's system records).
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from datetime import datetime
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from tests.helpers import RECORDS, create_application, record_total
from tests.search.support import (
    NUL_IN_URL,
    Posted,
    found,
    ids,
    listing,
    writer_client,
)

# --- words, prefixes, phrases, exclusions ---------------------------------------------------

WORDS = {
    "refund": {"summary": "Refund approved"},
    "refunded": {"summary": "Customer refunded"},
    "refunds": {"summary": "Two refunds queued"},
    "prefund": {"summary": "Prefund check"},
}


async def test_a_word_is_found_whole_and_a_star_makes_it_a_prefix(
    client: httpx.AsyncClient,
) -> None:
    posted = Posted()
    await posted.post_all(client, WORDS)
    cases: list[tuple[str, set[str]]] = [
        ("refund", {"refund"}),  # not "refunded", "refunds" nor "Prefund"
        ("refunded", {"refunded"}),
        ("refunds", {"refunds"}),
        ("efund", set()),  # no word ends or starts there
        ("refund*", {"refund", "refunded", "refunds"}),  # the start of a word only
        ("refunde*", {"refunded"}),
        ("REFUND*", {"refund", "refunded", "refunds"}),
        ("prefund*", {"prefund"}),
        ("*refund", {"refund"}),  # a star before the word is not a wildcard
        ("refunded*", {"refunded"}),  # a prefix finds the whole word too
        ("refundedx*", set()),
    ]
    for search, expected in cases:
        assert await found(client, posted, search=search) == expected, search


CARDS = {
    "adjacent": {"summary": "Card declined at checkout"},
    "reversed": {"summary": "Declined card replaced"},
    "apart": {"summary": "Card was declined twice"},
    "test": {"summary": "Test card declined"},
    "other": {"summary": "Payment declined by issuer"},
}


@pytest.fixture
async def cards(client: httpx.AsyncClient) -> Posted:
    posted = Posted()
    await posted.post_all(client, CARDS)
    return posted


async def test_a_quoted_phrase_is_its_words_in_order_and_adjacent(
    client: httpx.AsyncClient, cards: Posted
) -> None:
    cases: list[tuple[str, set[str]]] = [
        ('"card declined"', {"adjacent", "test"}),  # not reversed, not apart
        ('"declined card"', {"reversed"}),
        ('"CARD DECLINED"', {"adjacent", "test"}),
        ('"card   declined"', {"adjacent", "test"}),  # spacing in the quotes does not count
        ('"card, declined!"', {"adjacent", "test"}),  # nor punctuation
        ('"card was declined"', {"apart"}),
        ('"was card"', set()),
        ('"card decl"*', {"adjacent", "test"}),  # a star after the quotes: its last word's prefix
        ('"declined"', {"adjacent", "reversed", "apart", "test", "other"}),
        ('"card declined" checkout', {"adjacent"}),
    ]
    for search, expected in cases:
        assert await found(client, cards, search=search) == expected, search


async def test_several_terms_must_all_match(client: httpx.AsyncClient, cards: Posted) -> None:
    cases: list[tuple[str, set[str]]] = [
        ("card declined", {"adjacent", "reversed", "apart", "test"}),  # in any order, anywhere
        ("declined card", {"adjacent", "reversed", "apart", "test"}),
        ("declined", {"adjacent", "reversed", "apart", "test", "other"}),
        ("card twice", {"apart"}),
        ("card twice issuer", set()),
        ("declined issuer", {"other"}),
        ("declin* car*", {"adjacent", "reversed", "apart", "test"}),
        ("   card    twice   ", {"apart"}),
    ]
    for search, expected in cases:
        assert await found(client, cards, search=search) == expected, search


async def test_a_minus_excludes_a_word_a_phrase_or_a_prefix(
    client: httpx.AsyncClient, cards: Posted
) -> None:
    cases: list[tuple[str, set[str]]] = [
        ("declined -card", {"other"}),
        ("card -test", {"adjacent", "reversed", "apart"}),
        ('card -"card declined"', {"reversed", "apart"}),
        ('declined -"declined card"', {"adjacent", "apart", "test", "other"}),
        ("declined -tw*", {"adjacent", "reversed", "test", "other"}),
        ("declined -test -twice -issuer", {"adjacent", "reversed"}),
        ('"card declined" -checkout', {"test"}),
        ("card -card", set()),
        ("card -nothing", {"adjacent", "reversed", "apart", "test"}),
        ("card - test", {"test"}),  # a lone minus is no term: "card" and "test"
    ]
    for search, expected in cases:
        assert await found(client, cards, search=search) == expected, search


async def test_a_search_of_only_exclusions_is_everything_else(
    client: httpx.AsyncClient, cards: Posted
) -> None:
    everything = await listing(client)
    assert len(everything["records"]) == everything["total"]
    cases: list[tuple[str, set[str]]] = [
        ("-test", {"test"}),
        ('-"card declined"', {"adjacent", "test"}),
        ("-declin*", set(CARDS)),
        ("-card -issuer", set(CARDS)),
        ("-nothinglikethis", set()),
    ]
    for search, excluded in cases:
        body = await listing(client, search=search)
        expected = [r for r in everything["records"] if cards.name(r) not in excluded]
        # The same records in the same order; system records included: they lack the words.
        assert ids(body["records"]) == ids(expected), search
        assert body["total"] == len(expected), search


# --- identifiers ----------------------------------------------------------------------------

UUID = "3f2a9c1e-7b4d-4e21-9a8f-0c6d5e4b3a21"
IDENTIFIERS = {
    "invoice": {
        "summary": "Refund for INV-1042",
        "entity_type": "invoice",
        "entity_id": "INV-1042",
    },
    "longer": {"summary": "Refund for INV-10420", "entity_id": "INV-10420"},
    "reversed": {"summary": "Reference 1042-INV"},
    "alice": {"summary": "Password reset for alice@example.com"},
    "alice_org": {"summary": "Mail from alice@example.org"},
    "ip": {"summary": "Login from 10.0.0.7"},
    "ip70": {"summary": "Login from 10.0.0.70"},
    "uuid": {"summary": "Session closed", "entity_id": UUID},
    "uuid_near": {"summary": "Session closed", "entity_id": "3f2a8c1e-7b4d-4e21-9a8f-0c6d5e4b3a21"},
}


async def test_identifiers_are_found_whole_and_by_their_parts(
    client: httpx.AsyncClient,
) -> None:
    posted = Posted()
    await posted.post_all(client, IDENTIFIERS)
    cases: list[tuple[str, set[str]]] = [
        # INV-1042: the words "inv 1042", in this order
        ("INV-1042", {"invoice"}),
        ("inv-1042", {"invoice"}),
        ("INV 1042", {"invoice", "reversed"}),  # two terms: both words, anywhere
        ('"INV 1042"', {"invoice"}),
        ("INV_1042", {"invoice"}),  # any punctuation splits the same way
        ("1042", {"invoice", "reversed"}),
        ("INV", {"invoice", "longer", "reversed"}),
        ("INV-104*", {"invoice", "longer"}),
        ("INV-10420", {"longer"}),
        ("1042-INV", {"reversed"}),
        ("-INV-1042 INV", {"longer", "reversed"}),
        # an email address: its words; the bootstrap admin is admin@example.com
        ("alice@example.com", {"alice"}),
        ("ALICE@EXAMPLE.COM", {"alice"}),
        ("alice", {"alice", "alice_org"}),
        ("example.com", {"alice"}),
        ("alice@example.*", {"alice", "alice_org"}),
        ("alice@example.net", set()),
        # an IP address: "10 0 0 7" is not "10 0 0 70"
        ("10.0.0.7", {"ip"}),
        ("10.0.0.70", {"ip70"}),
        ("10.0.0.7*", {"ip", "ip70"}),
        ("10.0.0", {"ip", "ip70"}),
        # a UUID: whole, by its first group, by a prefix of it
        (UUID, {"uuid"}),
        (UUID.upper(), {"uuid"}),
        ("3f2a9c1e", {"uuid"}),
        ("3f2a9*", {"uuid"}),
        ("3f2a*", {"uuid", "uuid_near"}),
        ("7b4d-4e21", {"uuid", "uuid_near"}),
        ("3f2a", set()),  # a prefix without its star is no word
    ]
    for search, expected in cases:
        # Only the records posted here: the bootstrap records' UUIDs are random hex words.
        assert await found(client, posted, search=search) & set(IDENTIFIERS) == expected, search
    # The bootstrap admin's record names admin@example.com.
    assert "user.created" in await found(client, posted, search="example.com")
    assert "user.created" not in await found(client, posted, search="alice@example.com")


async def test_a_word_inside_a_hex_identifier_is_not_a_word_of_its_own(
    client: httpx.AsyncClient,
) -> None:
    """`1e9f3ab` is one word: `f3ab` is not in it, and `1e9` only as its prefix."""
    posted = Posted()
    await posted.post_all(
        client,
        {
            "commit": {"summary": "Deployed commit 1e9f3ab"},
            "sku": {"summary": "Shipped item 12e3abc"},
        },
    )
    cases: list[tuple[str, set[str]]] = [
        ("1e9f3ab", {"commit"}),
        ("1e9f*", {"commit"}),
        ("1e9*", {"commit"}),
        ("f3ab", set()),
        ("1e9", set()),
        ("12e3abc", {"sku"}),
        ("abc", set()),
        ("12e3", set()),
        ("12e3 abc", set()),
    ]
    for search, expected in cases:
        # Only the records posted here: the bootstrap records' UUIDs are random hex words.
        assert await found(client, posted, search=search) & {"commit", "sku"} == expected, search


# --- what is searched -----------------------------------------------------------------------


async def test_every_searched_field_and_param_values_are_found(
    client: httpx.AsyncClient, app: FastAPI
) -> None:
    await create_application(client, "tapir")
    posted = Posted()
    heron = await writer_client(app, client, "heron")
    async with heron:
        await posted.post(heron, "actor", summary="Written by a key")
    await posted.post_all(
        client,
        {
            "summary": {"summary": "A walrus appeared"},
            "event_type": {"event_type": "narwhal.spotted"},
            "category": {"category": "pelican"},
            "entity_type": {"entity_type": "ocelot"},
            "entity_id": {"entity_id": "OC-77"},
            "application": {"application_key": "tapir"},
            "string": {"params": {"note": "mongoose"}},
            "integer": {"params": {"code": 47110}},
            "float": {"params": {"ratio": 129.5}},
            "boolean": {"params": {"flag": False, "label": "quokka"}},
            "nested": {"params": {"extra": {"deep": {"deeper": ["lemur", 80860, {"x": "yak"}]}}}},
            "list": {"params": {"tags": ["ibex", "gnu"]}},
        },
    )
    cases: list[tuple[str, set[str]]] = [
        ("walrus", {"summary"}),
        ("narwhal", {"event_type"}),
        ("narwhal.spotted", {"event_type"}),
        ("spotted", {"event_type"}),
        ("pelican", {"category"}),
        ("heron", {"actor", "api_key.created"}),  # the key's creation names it too
        ("api_key:heron", {"actor", "api_key.created"}),  # "API key heron (atk_…) created"
        ("api_key:heron -created", {"actor"}),
        ("ocelot", {"entity_type"}),
        ("OC-77", {"entity_id"}),
        ("oc", {"entity_id"}),
        ("tapir", {"application", "application.created"}),
        ("mongoose", {"string"}),
        ("47110", {"integer"}),
        ("129.5", {"float"}),
        ("129", {"float"}),
        ("false quokka", {"boolean"}),
        ("lemur", {"nested"}),
        ("80860", {"nested"}),
        ("yak", {"nested"}),
        ("gnu ibex", {"list"}),
    ]
    for search, expected in cases:
        assert await found(client, posted, search=search) == expected, search


async def test_param_keys_and_metadata_are_not_searched(client: httpx.AsyncClient) -> None:
    posted = Posted()
    await posted.post_all(
        client,
        {
            "keyed": {"params": {"wombatkey": "x", "nest": {"innerkey": "y"}}},
            "meta": {"metadata": {"trace": "koala", "koalakey": 1}},
        },
    )
    for search in ("wombatkey", "innerkey", "nest", "koala", "koalakey", "trace"):
        assert await found(client, posted, search=search) == set(), search


async def test_case_does_not_matter_beyond_ascii(client: httpx.AsyncClient) -> None:
    posted = Posted()
    await posted.post_all(
        client,
        {
            "german": {"summary": "Jörg MÜLLER signed the Änderung"},
            "russian": {"summary": "Привет МИР"},
            "greek": {"summary": "Σύστημα ΕΝΗΜΕΡΩΘΗΚΕ"},
            "turkish": {"params": {"city": "ıspanakçı"}},
            "cjk": {"summary": "東京タワー opened"},
            "hebrew": {"summary": "שלום עולם"},
        },
    )
    cases: list[tuple[str, set[str]]] = [
        ("müller", {"german"}),
        ("MÜLLER", {"german"}),
        ("jörg", {"german"}),
        ("JÖRG", {"german"}),
        ("änderung", {"german"}),
        ("ÄND*", {"german"}),
        ("joerg", set()),  # no transliteration
        ("muller", set()),  # accents are letters of their own
        ("привет мир", {"russian"}),
        ("ПРИВЕТ", {"russian"}),
        ("ми*", {"russian"}),
        ("σύστημα", {"greek"}),
        ("ΣΎΣΤΗΜΑ", {"greek"}),
        ("ενημερωθηκε", {"greek"}),
        ("ıspanakçı", {"turkish"}),
        ("東京タワー", {"cjk"}),
        ("東京*", {"cjk"}),
        ("עולם", {"hebrew"}),
        ('"שלום עולם"', {"hebrew"}),
    ]
    for search, expected in cases:
        assert await found(client, posted, search=search) == expected, search


async def test_an_upper_case_greek_prefix_ending_in_sigma_finds_its_words(
    client: httpx.AsyncClient,
) -> None:
    """ΣΎΣ* is σύσ* in any case: Python lowers a word's last Σ to the final ς, which no word
    that goes on after it holds; a case-insensitive prefix must not care."""
    posted = Posted()
    await posted.post(client, "greek", summary="Σύστημα ενημερώθηκε")
    for search in ("σύσ*", "ΣΎΣ*", "Σύσ*", "ΣΎΣΤ*"):
        assert await found(client, posted, search=search) == {"greek"}, search


async def test_superscripts_and_fractions_are_parts_of_words(
    client: httpx.AsyncClient,
) -> None:
    """² and ½ are digits of their words, as the words' definition (letters and digits) says."""
    posted = Posted()
    await posted.post(client, "room", summary="Room of 80m² at ½ price")
    await posted.post(client, "plain", summary="Room of 80m at full price")
    cases: list[tuple[str, set[str]]] = [
        ("80m²", {"room"}),
        ("80m", {"plain"}),
        ("½", {"room"}),
        ("room -½", {"plain"}),
    ]
    for search, expected in cases:
        assert await found(client, posted, search=search) == expected, search


async def test_a_phrase_is_found_however_far_into_a_long_record(
    client: httpx.AsyncClient,
) -> None:
    """A record may hold tens of thousands of words (a log excerpt in a param): an identifier
    or phrase at its end is found like one at its start."""
    posted = Posted()
    filler = "w " * 17_000
    await posted.post(
        client, "long", summary="Batch log", params={"log": filler + "INV-1042 card declined"}
    )
    for search in ("declined", "INV-1042", '"card declined"', "1042-card*", "w"):
        assert await found(client, posted, search=search) == {"long"}, search


# --- with the other filters, sorts and pages ------------------------------------------------


@pytest.fixture
async def quartz(client: httpx.AsyncClient, app: FastAPI) -> Posted:
    """Records with the word quartz (q*) and without (g*), across applications, actors,
    severities, entities, params and metadata."""
    await create_application(client, "ledger", params=[{"key": "amount", "type": "number"}])
    await create_application(client, "depot")
    wren = await writer_client(app, client, "wren")
    finch = await writer_client(app, client, "finch")
    posted = Posted()
    rows: list[tuple[str, httpx.AsyncClient, dict[str, Any]]] = [
        (
            "q1",
            wren,
            dict(
                application_key="ledger",
                event_type="invoice.paid",
                category="billing",
                severity="low",
                entity_type="invoice",
                entity_id="INV-1",
                params={"amount": 10},
                metadata={"region": "eu"},
                summary="quartz paid",
            ),
        ),
        (
            "g1",
            wren,
            dict(
                application_key="ledger",
                event_type="invoice.paid",
                category="billing",
                severity="low",
                entity_type="invoice",
                entity_id="INV-1",
                params={"amount": 10},
                metadata={"region": "eu"},
                summary="granite paid",
            ),
        ),
        (
            "q2",
            finch,
            dict(
                application_key="ledger",
                event_type="invoice.refunded",
                category="billing",
                severity="high",
                entity_type="invoice",
                entity_id="INV-2",
                params={"amount": 250},
                metadata={"region": "us"},
                summary="Quartz refunded",
            ),
        ),
        (
            "q3",
            wren,
            dict(
                application_key="depot",
                event_type="parcel.shipped",
                category="logistics",
                severity="medium",
                entity_type="parcel",
                entity_id="P-1",
                params={"weight": 3},
                metadata={"region": "eu"},
                summary="QUARTZ shipped",
            ),
        ),
        (
            "q4",
            client,
            dict(
                event_type="user.login",
                category="security",
                severity="critical",
                entity_type="user",
                entity_id="u-1",
                summary="quartz login",
            ),
        ),
        (
            "g2",
            finch,
            dict(
                application_key="depot",
                event_type="parcel.shipped",
                category="logistics",
                severity="medium",
                entity_type="parcel",
                entity_id="P-1",
                params={"weight": 3},
                metadata={"region": "eu"},
                summary="granite shipped",
            ),
        ),
        (
            "q5",
            finch,
            dict(
                application_key="ledger",
                event_type="invoice.paid",
                category="billing",
                severity="none",
                entity_type="invoice",
                entity_id="INV-1",
                params={"amount": 99},
                metadata={"region": "eu"},
                summary="quartz paid again",
            ),
        ),
        ("q6", client, dict(event_type="note.added", summary="quartz note", severity="low")),
        (
            "q7",
            wren,
            dict(
                application_key="depot",
                event_type="parcel.shipped",
                category="logistics",
                severity="low",
                params={"tags": ["quartz"]},
                summary="Parcel",
            ),
        ),
    ]
    for name, poster, fields in rows:
        await posted.post(poster, name, **fields)
    for writer in (wren, finch):
        await writer.aclose()
    return posted


QUARTZ = {"q1", "q2", "q3", "q4", "q5", "q6", "q7"}


def _created(record: dict[str, Any]) -> datetime:
    return datetime.fromisoformat(record["created_at"])


def _amount(operator: str, value: float | list[float]) -> str:
    return json.dumps([{"key": "amount", "operator": operator, "value": value}])


Expected = set[str] | Callable[[Posted], set[str]]
Params = dict[str, Any] | Callable[[Posted], dict[str, Any]]


def _from(name: str) -> Callable[[Posted], dict[str, Any]]:
    return lambda posted: {"date_from": posted.records[name]["created_at"]}


def _to(name: str) -> Callable[[Posted], dict[str, Any]]:
    return lambda posted: {"date_to": posted.records[name]["created_at"]}


def _at_or_after(name: str) -> Callable[[Posted], set[str]]:
    def expected(posted: Posted) -> set[str]:
        start = _created(posted.records[name])
        return {n for n in QUARTZ if _created(posted.records[n]) >= start}

    return expected


def _at_or_before(name: str) -> Callable[[Posted], set[str]]:
    def expected(posted: Posted) -> set[str]:
        end = _created(posted.records[name])
        return {n for n in QUARTZ if _created(posted.records[n]) <= end}

    return expected


COMBINED: list[tuple[Params, Expected]] = [
    ({"event_types": "invoice.paid"}, {"q1", "q5"}),
    ({"event_types": "invoice.paid,parcel.shipped"}, {"q1", "q3", "q5", "q7"}),
    ({"categories": "logistics"}, {"q3", "q7"}),
    ({"categories": "billing,security"}, {"q1", "q2", "q4", "q5"}),
    ({"actors": "api_key:wren"}, {"q1", "q3", "q7"}),
    ({"actors": "api_key:finch,api_key:bootstrap"}, {"q2", "q4", "q5", "q6"}),
    ({"severities": "high,critical"}, {"q2", "q4"}),
    ({"severities": "low"}, {"q1", "q6", "q7"}),
    ({"entity_type": "invoice"}, {"q1", "q2", "q5"}),
    ({"entity_id": "INV-1"}, {"q1", "q5"}),
    ({"entity_type": "parcel", "entity_id": "P-1"}, {"q3"}),
    ({"application_key": "ledger"}, {"q1", "q2", "q5"}),
    (lambda posted: {"application_id": posted.records["q3"]["application_id"]}, {"q3", "q7"}),
    (_from("q3"), _at_or_after("q3")),
    (_to("q2"), _at_or_before("q2")),
    (
        lambda posted: {**_from("q2")(posted), **_to("q5")(posted)},
        lambda posted: _at_or_after("q2")(posted) & _at_or_before("q5")(posted),
    ),
    ({"param_filters": _amount("gte", 99)}, {"q2", "q5"}),
    ({"param_filters": _amount("lt", 50), "application_key": "ledger"}, {"q1"}),
    ({"param_filters": _amount("eq", 10)}, {"q1"}),
    ({"param_filters": _amount("in", [99, 250])}, {"q2", "q5"}),
    ({"metadata": "region:eu"}, {"q1", "q3", "q5"}),
    ({"metadata": "region:us"}, {"q2"}),
    (
        {
            "application_key": "ledger",
            "severities": "low,none",
            "metadata": "region:eu",
            "param_filters": _amount("lt", 50),
        },
        {"q1"},
    ),
    ({"categories": "billing", "actors": "api_key:finch", "severities": "none"}, {"q5"}),
    ({"event_types": "nothing.happened"}, set()),
]


async def test_search_combines_with_every_other_filter(
    client: httpx.AsyncClient, quartz: Posted
) -> None:
    assert await found(client, quartz, search="quartz") == QUARTZ
    wrong = []  # every case that fails, not just the first
    for given, wanted in COMBINED:
        params = given(quartz) if callable(given) else given
        expected = wanted(quartz) if callable(wanted) else wanted
        searched = await found(client, quartz, search="quartz", **params)
        # The search and the filter are one AND: the search within what the filter finds.
        alone = await found(client, quartz, **params)
        if searched != expected or searched != alone & QUARTZ:
            wrong.append((params, "expected", expected, "searched", searched, "alone", alone))
    assert wrong == []
    # Exclusions and phrases combine the same way.
    cases: list[tuple[str, dict[str, Any], set[str]]] = [
        ("quartz -again", {"application_key": "ledger"}, {"q1", "q2"}),
        ('"quartz paid"', {"severities": "low,none"}, {"q1", "q5"}),
        ("-granite", {"application_key": "depot"}, {"q3", "q7"}),
        ("paid", {"metadata": "region:eu", "actors": "api_key:wren"}, {"q1", "g1"}),
    ]
    for search, params, expected in cases:
        assert await found(client, quartz, search=search, **params) == expected, (search, params)


SORTS = ["created_at", "severity", "event_type", "actor", "category"]


async def test_search_under_every_sort_and_both_pagings(
    client: httpx.AsyncClient, quartz: Posted
) -> None:
    matching = {quartz.ids[name] for name in QUARTZ}
    for sort_by in SORTS:
        for sort_dir in ("asc", "desc"):
            case = {"sort_by": sort_by, "sort_dir": sort_dir}
            # The unfiltered order, narrowed to the matching records, is the searched order.
            everything = await listing(client, **case)
            expected = [i for i in ids(everything["records"]) if i in matching]
            assert len(expected) == len(QUARTZ)
            whole = await listing(client, search="quartz", **case)
            assert ids(whole["records"]) == expected, case
            assert whole["total"] == len(expected)
            assert whole["next_cursor"] is None
            # Pages by number: their union is the matching records, in order, once each.
            paged: list[str] = []
            pages = math.ceil(len(expected) / 2)
            for page in range(1, pages + 2):
                body = await listing(client, search="quartz", page=page, page_size=2, **case)
                assert (body["total"], body["total_pages"]) == (len(expected), pages), case
                assert ids(body["records"]) == expected[(page - 1) * 2 : page * 2], (case, page)
                paged += ids(body["records"])
            assert paged == expected, case
            # Pages by cursor: the same.
            walked: list[str] = []
            cursor: str | None = None
            for _ in range(len(expected) + 1):
                params: dict[str, Any] = {"search": "quartz", "page_size": 2, **case}
                if cursor is not None:
                    params["cursor"] = cursor
                body = await listing(client, **params)
                assert body["total"] == len(expected), case
                walked += ids(body["records"])
                cursor = body["next_cursor"]
                if cursor is None:
                    break
            assert walked == expected, case
            # A cursor walk with a smaller page, and with the search excluding some.
            walked = []
            cursor = None
            narrower = [i for i in expected if i != quartz.ids["q6"]]
            for _ in range(len(expected) + 1):
                params = {"search": "quartz -note", "page_size": 1, **case}
                if cursor is not None:
                    params["cursor"] = cursor
                body = await listing(client, **params)
                assert body["total"] == len(narrower), case
                walked += ids(body["records"])
                cursor = body["next_cursor"]
                if cursor is None:
                    break
            assert walked == narrower, case


# --- what is no filter, what is refused, what never fails ------------------------------------

NO_WORDS = ["", "***", "-", "--", "@.", '""', '"" ', "   ", "- * -", '-""', '"-"', "*", "?!", "—"]


async def test_a_search_without_a_word_is_no_filter(
    client: httpx.AsyncClient, cards: Posted
) -> None:
    everything = await listing(client)
    for search in NO_WORDS:
        body = await listing(client, search=search)
        assert body["total"] == everything["total"], repr(search)
        assert ids(body["records"]) == ids(everything["records"]), repr(search)
    # With other words beside them, the wordless terms are dropped.
    assert await found(client, cards, search="*** twice -- @.") == {"apart"}


UNCLOSED = {
    "error": {
        "code": "VALIDATION_ERROR",
        "message": 'Invalid query parameter search: a quote (") is not closed.',
        "details": [
            {
                "field": "query.search",
                "code": "INVALID_SEARCH",
                "message": 'has a quote (") that is not closed.',
            }
        ],
    }
}


async def test_an_unclosed_quote_is_422(client: httpx.AsyncClient, cards: Posted) -> None:
    stored = await record_total(client)
    for search in ['"card declined', 'card "declined', '"a" "b', '-"card', '"""', 'card"', '"']:
        extras: list[dict[str, Any]] = [{}, {"categories": "general", "page": 2}]
        for extra in extras:
            response = await client.get(RECORDS, params={"search": search, **extra})
            assert response.status_code == 422, (search, response.text)
            assert response.json() == UNCLOSED, search
    assert await record_total(client) == stored


HOSTILE = [
    "NEAR(a b)",
    "NEAR",
    "a OR b",
    "a AND",
    "AND",
    "NOT card",
    "card NOT test",
    "(",
    ")",
    "(card",
    ":*",
    "card:*",
    "'",
    "'card' & !'test'",
    "card' | 'x",
    "\\",
    "\\'",
    "!",
    "!!card",
    "&",
    "|",
    "<->",
    "card <-> declined",
    "card <2> declined",
    "^",
    "^card",
    "{summary}:x",
    "summary:card",
    "records_search:card",
    "*",
    "**",
    "*card*",
    '""',
    '"" ',
    '"*"*',
    '"card" NEAR "declined"',
    "card + declined",
    "%",
    "_",
    "%card%",
    "x" * 256,
    "é" * 256,
    "𝐀" * 256,
    "😀" * 64,
    "card 😀 declined",
    "שלום עולם",
    "مرحبا",
    "\u202ecard",
    "\u200b",
    "a\u0301",
    "ﬁnance",
    "card " * 51,
    "-card " * 42,
    "a*" * 128,
    "1e400",
    "0x1f",
    "$1",
    "?",
    "; DROP TABLE records; --",
    "' OR 1=1 --",
]


async def test_hostile_searches_never_fail(client: httpx.AsyncClient, cards: Posted) -> None:
    everything = await record_total(client)
    for search in HOSTILE:
        response = await client.get(RECORDS, params={"search": search, "page_size": 200})
        assert response.status_code == 200, (search, response.text)
        body = response.json()
        assert body["total"] == len(body["records"]) <= everything, search
    # Their words are searched as words, nothing more.
    assert await found(client, cards, search="NEAR(card declined)") == set()
    assert await found(client, cards, search="card OR test") == set()
    assert await found(client, cards, search="'card' & !'test'") == {"test"}
    assert await found(client, cards, search="card:*") == {"adjacent", "reversed", "apart", "test"}
    # A NUL never reaches the search: the URL is refused.
    for search in ("\x00", "card\x00", "%00"):
        response = await client.get(RECORDS, params={"search": search})
        if search == "%00":  # sent as the three characters, escaped: a plain search
            assert response.status_code == 200, response.text
            continue
        assert response.status_code == 400, (search, response.text)
        assert response.json() == NUL_IN_URL
    assert await record_total(client) == everything


# --- found as soon as it is stored ----------------------------------------------------------


async def test_a_record_is_found_as_soon_as_its_201_is_answered(
    client: httpx.AsyncClient,
) -> None:
    for number in range(3):
        word = f"fresh{number}word"
        created = await client.post(
            RECORDS, json={"event_type": "test.event", "summary": f"Just stored {word}"}
        )
        assert created.status_code == 201, created.text
        body = await listing(client, search=word)
        assert ids(body["records"]) == [created.json()["id"]], word
        assert body["total"] == 1
    batch = [
        {"event_type": "test.event", "summary": f"Batched item{number}", "params": {"n": number}}
        for number in range(4)
    ]
    response = await client.post(f"{RECORDS}/batch", json=batch)
    assert response.status_code == 201, response.text
    stored = response.json()["records"]
    for number, record in enumerate(stored):
        body = await listing(client, search=f"item{number}")
        assert ids(body["records"]) == [record["id"]], number
    body = await listing(client, search="batched", sort_dir="asc")
    assert ids(body["records"]) == ids(stored)
    assert body["total"] == 4


async def test_a_record_of_an_application_is_found_right_away_too(
    client: httpx.AsyncClient,
) -> None:
    await create_application(client, "orchard", params=[{"key": "fruit", "type": "string"}])
    created = await client.post(
        RECORDS,
        json={
            "event_type": "fruit.picked",
            "summary": "Picked",
            "application_key": "orchard",
            "params": {"fruit": "quince"},
        },
    )
    assert created.status_code == 201, created.text
    body = await listing(client, search="quince orchard")
    assert ids(body["records"]) == [created.json()["id"]]


async def test_words_with_combining_marks_are_whole_words(client: httpx.AsyncClient) -> None:
    """Devanagari's and Thai's vowel signs are marks inside words: a word is found whole, and a
    piece of it only as a prefix, on both databases."""
    posted = Posted()
    await posted.post_all(
        client,
        {
            "hindi": {"summary": "पुस्तक हिन्दी में"},
            "kutub": {"summary": "कुतुब"},
            "thai": {"summary": "ภาษาไทย สวัสดี"},
        },
    )
    assert await found(client, posted, search="हिन्दी") == {"hindi"}
    assert await found(client, posted, search="हि") == set()
    assert await found(client, posted, search="हि*") == {"hindi"}
    assert await found(client, posted, search="किताब") == set()
    assert await found(client, posted, search="क") == set()
    assert await found(client, posted, search="สวัสดี") == {"thai"}
    assert await found(client, posted, search="สว") == set()
