"""Deterministic identity resolution: which source ids are one customer, and which customers share a home.

* Email addresses are normalised (:func:`normalize_email`): lower case, trimmed, ``+tag`` removed, dots removed
  where the provider ignores them (Gmail), ``googlemail.com`` read as ``gmail.com``.
* Source customer ids are nodes ``(source, source_customer_id)``. Two nodes are one customer when they carry
  the same id in different sources (rule ``source_id``) or the same normalised email (rule ``email``),
  transitively: the customers are the connected components of that graph (found with
  :func:`scipy.sparse.csgraph.connected_components`).
* A customer's id is the smallest source customer id in its component (text order), so it does not depend on
  the order of the input rows, and resolving again gives the same answer. (With id matching switched off, two
  components can hold the same id; both are then named ``source:id``.)
* Households roll customers up by normalised postal address (:func:`normalize_address`); a household's id is
  the smallest customer id living there.

Every node appears once in ``identity_links`` with the customer it became and the rule(s) that merged it, so a
merge can always be traced back.
"""

from __future__ import annotations

import re
import unicodedata

import numpy as np
import pandas as pd
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

# Providers that deliver mail regardless of dots in the local part (Gmail documents it for both its domains).
DOTLESS_DOMAINS = frozenset({"gmail.com"})
DOMAIN_ALIASES = {"googlemail.com": "gmail.com"}

_ADDRESS_WORDS = {
    "street": "st",
    "str": "st",
    "road": "rd",
    "avenue": "ave",
    "av": "ave",
    "drive": "dr",
    "lane": "ln",
    "court": "ct",
    "place": "pl",
    "square": "sq",
    "boulevard": "blvd",
    "terrace": "ter",
    "crescent": "cres",
    "close": "cl",
    "highway": "hwy",
    "parkway": "pkwy",
    "apartment": "apt",
    "flat": "apt",
    "suite": "ste",
    "floor": "fl",
    "building": "bldg",
    "north": "n",
    "south": "s",
    "east": "e",
    "west": "w",
    "number": "no",
}


def normalize_email(email: object) -> str | None:
    """The canonical form of an email address, or None if it is not one.

    >>> normalize_email("  John.Smith+news@GoogleMail.com ")
    'johnsmith@gmail.com'
    >>> normalize_email("Ann.Lee+x@example.org")
    'ann.lee@example.org'
    """
    if email is None or (isinstance(email, float) and np.isnan(email)) or email is pd.NA:
        return None
    text = str(email).strip().lower().removeprefix("mailto:")
    local, at, domain = text.rpartition("@")
    if not at or not local or "." not in domain or " " in text:
        return None
    domain = DOMAIN_ALIASES.get(domain, domain)
    local = local.split("+", 1)[0]
    if domain in DOTLESS_DOMAINS:
        local = local.replace(".", "")
    return f"{local}@{domain}" if local else None


def normalize_address(address: object) -> str | None:
    """A postal address reduced to compare equal across spellings: case, accents, punctuation, spacing and the
    common abbreviations (Street/St., Road/Rd, Apartment/Apt ...).

    >>> normalize_address("12, Baker Street.  Apt 4")
    '12 baker st apt 4'
    >>> normalize_address("12 BAKER ST, APARTMENT 4")
    '12 baker st apt 4'
    """
    if address is None or (isinstance(address, float) and np.isnan(address)) or address is pd.NA:
        return None
    text = unicodedata.normalize("NFKD", str(address)).encode("ascii", "ignore").decode().lower()
    text = re.sub(r"[^\w\s]", " ", text).replace("_", " ")
    words = [_ADDRESS_WORDS.get(w, w) for w in text.split()]
    return " ".join(words) or None


def resolve_identities(
    nodes: pd.DataFrame, *, match_source_ids: bool = True, match_emails: bool = True
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Resolve customer identities.

    Parameters
    ----------
    nodes:
        One row per transaction (or per source customer) with ``source``, ``source_customer_id`` and optionally
        ``email`` and ``address``; rows without a source customer id are ignored.

    Returns
    -------
    links:
        ``source, source_customer_id, customer_id, rule`` (one row per distinct source id; ``rule`` is
        ``identity`` for a customer found in one place only, else the ``+``-joined rules that linked it).
    households:
        ``customer_id, email, household_id``: the customer's most frequent normalised email and household.
    match_source_ids, match_emails:
        Switch the two linking rules; turn ``match_source_ids`` off when the sources number their customers
        independently (customer 42 of one shop is not customer 42 of another).
    """
    cols = ["source", "source_customer_id"]
    data = nodes.loc[nodes["source_customer_id"].notna()].copy()
    for optional in ("email", "address"):
        if optional not in data:
            data[optional] = None
    data["source"] = data["source"].astype(str)
    data["source_customer_id"] = data["source_customer_id"].astype(str)
    # One row per distinct (id, email, address) with its line count: every later step works on customers,
    # not lines.
    data = (
        data.groupby([*cols, "email", "address"], dropna=False, sort=False).size().rename("n").reset_index()
    )
    data = data.astype({"email": object, "address": object})
    data = data.where(data.notna(), None)
    data["email_norm"] = _normalised(data["email"], normalize_email)
    data["address_norm"] = _normalised(data["address"], normalize_address)

    node_table = data[cols].drop_duplicates().sort_values(cols, kind="stable").reset_index(drop=True)
    if node_table.empty:
        empty_links = pd.DataFrame(columns=[*cols, "customer_id", "rule"])
        return empty_links, pd.DataFrame(columns=["customer_id", "email", "household_id"])
    node_id = pd.Series(np.arange(len(node_table)), index=pd.MultiIndex.from_frame(node_table))
    data["node"] = node_id.reindex(pd.MultiIndex.from_frame(data[cols])).to_numpy()

    edges_src: list[np.ndarray] = []
    edges_dst: list[np.ndarray] = []
    rule_of_node: dict[str, np.ndarray] = {}
    rules = [("source_id", node_table["source_customer_id"])] if match_source_ids else []
    rules += [("email", None)] if match_emails else []
    for rule, key in rules:
        if rule == "email":
            pairs = data.loc[data["email_norm"].notna(), ["node", "email_norm"]].drop_duplicates()
            keys = pairs["email_norm"]
            members = pairs["node"].to_numpy()
        else:
            keys = key
            members = np.arange(len(node_table))
        src, dst = _star_edges(keys.to_numpy(), members)
        edges_src.append(src)
        edges_dst.append(dst)
        linked = np.zeros(len(node_table), dtype=bool)
        linked[src] = True
        linked[dst] = True
        rule_of_node[rule] = linked
    src = np.concatenate(edges_src) if edges_src else np.zeros(0, dtype=int)
    dst = np.concatenate(edges_dst) if edges_dst else np.zeros(0, dtype=int)
    n = len(node_table)
    graph = coo_matrix((np.ones(len(src)), (src, dst)), shape=(n, n))
    _, component = connected_components(graph, directed=False)

    # The representative: the smallest (id, source) node of the component. Two components can share an id only
    # when ids are not matched across sources; then both are named "source:id" so customers never collide.
    order = node_table.assign(component=component).sort_values(
        ["source_customer_id", "source"], kind="stable"
    )
    head = order.drop_duplicates("component").set_index("component")
    representative = head["source_customer_id"].copy()
    clash = representative.duplicated(keep=False)
    representative[clash] = head.loc[clash, "source"] + ":" + head.loc[clash, "source_customer_id"]
    links = node_table.copy()
    links["customer_id"] = representative.reindex(component).to_numpy()
    rule = np.full(n, "", dtype=object)
    for name, linked in rule_of_node.items():
        rule = np.where(linked, np.where(rule == "", name, rule + "+" + name), rule)
    links["rule"] = np.where(rule == "", "identity", rule)

    data["customer_id"] = links["customer_id"].to_numpy()[data["node"].to_numpy()]
    households = _households(data)
    return links, households


def _normalised(values: pd.Series, fn) -> pd.Series:
    """Apply ``fn`` once per distinct value (emails repeat on every line of a customer)."""
    uniques = values.dropna().unique()
    lookup = {v: fn(v) for v in uniques}
    return values.map(lookup).astype(object).where(values.notna(), None)


def _star_edges(keys: np.ndarray, members: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Edges joining every member to the first member with the same key (enough for connectivity)."""
    frame = pd.DataFrame({"key": keys, "member": members})
    first = frame.groupby("key")["member"].transform("min").to_numpy()
    linked = first != frame["member"].to_numpy()
    return frame["member"].to_numpy()[linked], first[linked]


def _most_frequent(frame: pd.DataFrame, value: str) -> pd.Series:
    """Per customer, the most frequent non-null value (ties: the smallest), so the choice is order-free."""
    counts = frame.dropna(subset=[value]).groupby(["customer_id", value])["n"].sum().reset_index()
    counts = counts.sort_values(["customer_id", "n", value], ascending=[True, False, True], kind="stable")
    return counts.drop_duplicates("customer_id").set_index("customer_id")[value]


def _households(data: pd.DataFrame) -> pd.DataFrame:
    customers = pd.Index(sorted(data["customer_id"].unique()), name="customer_id")
    email = _most_frequent(data, "email_norm").reindex(customers)
    address = _most_frequent(data, "address_norm").reindex(customers)
    frame = pd.DataFrame({"email": email, "address": address}).reset_index()
    head = frame.dropna(subset=["address"]).groupby("address")["customer_id"].min()
    frame["household_id"] = frame["address"].map(head)
    return (
        frame[["customer_id", "email", "household_id"]]
        .astype(object)
        .where(frame[["customer_id", "email", "household_id"]].notna(), None)
    )
