"""Usage generators are seeded and follow the timeline's seats; CSV rows are read exactly."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from meterbook.scenarios import ScenarioError, load, load_text
from meterbook.scenarios.generators import generated_entries
from tests.conftest import EXAMPLES

GEN = EXAMPLES / "generated-seats.yaml"


def entries(seed: int | None = None) -> list:
    s = load(GEN)
    if seed is not None:
        import msgspec

        s = msgspec.structs.replace(s, seed=seed)
    return list(generated_entries(s, GEN.name, EXAMPLES))


def test_per_seat_follows_seat_changes() -> None:
    got = entries()
    # 15 days x 2 seats x 2 events, then 16 days x 3 seats x 2 events.
    assert len(got) == 15 * 4 + 16 * 6
    users = Counter(e.usage.properties["user"] for e in got)
    assert users == {"alice": 62, "bob": 62, "erin": 32}
    assert all(isinstance(e.usage.properties["credits"], int) for e in got)


def test_same_seed_same_events_other_seed_other_events() -> None:
    a, b, c = entries(), entries(), entries(seed=43)
    key = [(e.at, e.usage.id, e.usage.properties["credits"]) for e in a]
    assert key == [(e.at, e.usage.id, e.usage.properties["credits"]) for e in b]
    assert key != [(e.at, e.usage.id, e.usage.properties["credits"]) for e in c]


def test_generated_run_is_billed(run_text) -> None:
    r = run_text(GEN.read_text(), GEN.name)
    assert r.runtime.accepted == 15 * 4 + 16 * 6 + 1 + 1 + 5  # events, the seat change, the customer, the catalog
    assert r.invoice_total("acme", load(GEN).start) > 20_00000000


def test_csv_bad_timestamp_names_file_and_line(tmp_path: Path) -> None:
    (tmp_path / "u.csv").write_text("transaction_id,customer_id,event_type,timestamp,properties\n"
                                    "x1,c,e,2026-01-02,{}\nx2,c,e,yesterday,{}\n")
    text = """
meterbook: 1
start: 2026-01-01
end: 2026-02-01
products: [{id: p, type: usage, metric: {event_type: e, aggregation: count}}]
rate_cards: [{id: r, rates: [{product: p, price: "1.00"}]}]
customers: [{id: c, contract: {rate_card: r}}]
usage: [{csv: u.csv}]
"""
    s = load_text(text, "s.yaml")
    with pytest.raises(ScenarioError) as info:
        list(generated_entries(s, "s.yaml", tmp_path))
    assert str(info.value) == "u.csv: line 3: expected an RFC 3339 UTC time or a date, got 'yesterday'"


def test_seeded_values_and_ids_are_pinned_and_yielded_in_time_order() -> None:
    """The values and ids of seed 42 as they were before generation streamed; only the yield
    order changed (now by time)."""
    from meterbook.scenarios import format_at

    got = {e.usage.id: (format_at(e.at), e.usage.properties) for e in entries()}
    assert got["g0-1"] == ("2026-01-01T22:34:52.402870Z", {"credits": 2, "user": "alice"})
    assert got["g0-2"] == ("2026-01-01T08:08:11.854519Z", {"credits": 3, "user": "alice"})
    assert got["g0-4"] == ("2026-01-01T02:56:20.996095Z", {"credits": 4, "user": "bob"})
    assert got["g0-156"] == ("2026-01-31T18:44:56.075099Z", {"credits": 3, "user": "erin"})
    ats = [e.at for e in entries()]
    assert ats == sorted(ats)
