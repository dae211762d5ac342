"""Identity resolution: normalisation, transitive merges, traceable links, order invariance, idempotence."""

from __future__ import annotations

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from patron.io.identity import normalize_address, normalize_email, resolve_identities


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("  John.Smith+news@GoogleMail.com ", "johnsmith@gmail.com"),
        ("j.o.h.n.smith@gmail.com", "johnsmith@gmail.com"),
        ("Ann.Lee+shop@Example.ORG", "ann.lee@example.org"),  # dots matter outside Gmail
        ("mailto:bob@example.com", "bob@example.com"),
        ("not an email", None),
        ("@example.com", None),
        ("+tag@example.com", None),
        (None, None),
        (float("nan"), None),
    ],
)
def test_normalize_email(raw, expected) -> None:
    assert normalize_email(raw) == expected


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("12, Baker Street.  Apt 4", "12 BAKER ST APARTMENT 4"),
        ("1 Rue de l'Église", "1 rue de l eglise"),
        ("5 North Road", "5 n rd"),
    ],
)
def test_normalize_address_equates_spellings(a: str, b: str) -> None:
    assert normalize_address(a) == normalize_address(b)


def test_merges_are_transitive_and_traceable() -> None:
    rows = pd.DataFrame(
        [
            # web shop: customer 9 and 12 share an email once normalised
            ("web", "9", "Ann.Lee+promo@gmail.com", "12 Baker Street"),
            ("web", "12", "annlee@googlemail.com", None),
            # store: customer 12 (same id as the web shop's 12) and 30 (another person, same household)
            ("store", "12", None, "12 baker st."),
            ("store", "30", "bob@example.com", "12, Baker St"),
            ("store", "40", None, None),
        ],
        columns=["source", "source_customer_id", "email", "address"],
    )
    links, households = resolve_identities(rows)
    links = links.set_index(["source", "source_customer_id"])
    # 9 ~ 12 by email, web 12 ~ store 12 by id: one customer, named by the smallest id ("12" < "9" as text)
    assert links.loc[("web", "9"), "customer_id"] == "12"
    assert links.loc[("store", "12"), "customer_id"] == "12"
    assert links.loc[("web", "9"), "rule"] == "email"
    assert links.loc[("web", "12"), "rule"] == "source_id+email"
    assert links.loc[("store", "12"), "rule"] == "source_id"
    assert links.loc[("store", "30"), "customer_id"] == "30"
    assert links.loc[("store", "40"), "rule"] == "identity"
    hh = households.set_index("customer_id")
    assert hh.loc["12", "household_id"] == hh.loc["30", "household_id"] == "12"
    assert hh.loc["12", "email"] == "annlee@gmail.com"
    assert hh.loc["40", "household_id"] is None


node = st.tuples(
    st.sampled_from(["web", "store", "app"]),
    st.sampled_from(["1", "2", "3", "10", "22"]),
    st.one_of(
        st.none(),
        st.sampled_from(["a@gmail.com", "A.@gmail.com", "a+x@googlemail.com", "b@x.org", "c@x.org"]),
    ),
    st.one_of(st.none(), st.sampled_from(["1 High Street", "1 high st", "2 Low Road"])),
)


def _resolve(rows: list[tuple]) -> tuple[pd.DataFrame, pd.DataFrame]:
    frame = pd.DataFrame(rows, columns=["source", "source_customer_id", "email", "address"])
    links, households = resolve_identities(frame)
    return (
        links.sort_values(["source", "source_customer_id"]).reset_index(drop=True),
        households.sort_values("customer_id").reset_index(drop=True),
    )


@settings(max_examples=20, deadline=None)
@given(rows=st.lists(node, min_size=1, max_size=25), seed=st.randoms(use_true_random=False))
def test_resolution_does_not_depend_on_row_order(rows, seed) -> None:
    shuffled = list(rows)
    seed.shuffle(shuffled)
    a_links, a_hh = _resolve(rows)
    b_links, b_hh = _resolve(shuffled)
    pd.testing.assert_frame_equal(a_links, b_links)
    pd.testing.assert_frame_equal(a_hh, b_hh)


@settings(max_examples=20, deadline=None)
@given(rows=st.lists(node, min_size=1, max_size=25))
def test_resolution_is_idempotent(rows) -> None:
    """Resolving the resolved customers again (one source, their ids and emails) merges nothing more."""
    links, households = _resolve(rows)
    assert links["customer_id"].isin(links["source_customer_id"]).all()
    again = households.assign(source="resolved", source_customer_id=households["customer_id"], address=None)
    relinks, _ = resolve_identities(again[["source", "source_customer_id", "email", "address"]])
    assert (relinks["customer_id"] == relinks["source_customer_id"]).all()
    # and every customer's members share a path of same-id / same-email links (no merge without a rule)
    merged = links[links["customer_id"] != links["source_customer_id"]]
    assert (merged["rule"] != "identity").all()


def test_id_matching_can_be_switched_off() -> None:
    rows = pd.DataFrame(
        [("shop_a", "42", "x@example.com"), ("shop_b", "42", None), ("shop_b", "7", "x@example.com")],
        columns=["source", "source_customer_id", "email"],
    )
    links, _ = resolve_identities(rows, match_source_ids=False)
    by_node = links.set_index(["source", "source_customer_id"])["customer_id"]
    # shop_b's 42 is someone else; shop_b's 7 has shop_a 42's email. The two "42"s are told apart by source.
    assert by_node[("shop_a", "42")] == by_node[("shop_b", "7")] == "shop_a:42"
    assert by_node[("shop_b", "42")] == "shop_b:42"
    linked, _ = resolve_identities(rows)
    assert set(linked["customer_id"]) == {"42"}  # with id matching: one customer
