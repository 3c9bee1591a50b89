"""The reverse of engine/from_scenario.py: each engine input as the format-1 timeline entry it
came from (SCENARIOS.md, "Timeline" and "Creating and editing at run time").

`entry_of(input, currency)` gives the entry as plain data (dicts, lists, strings, integers,
booleans and None; usage properties as journaled): amounts as decimal strings, times as
RFC 3339 (`format_at`, the format's own), prices back to `price`/`tiers`/`credit_type`, grant
templates back to `commits`/`credits`. Every command entry carries its explicit `id:`, so
converting the entry back through from_scenario gives the same input, id included: a journal
body, byte for byte (tests/test_journal_export.py checks every bundled scenario's).

What the input does not hold is not written: names of credit types and rate cards (the engine
keeps none), the default ids of grants (written out as the ids they resolved to)."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

from meterbook.actors import RecurringSpec, Unit
from meterbook.actors.catalog import FOREVER, ContractTerms, GrantTemplate, Price, Product, SubscriptionSpec
from meterbook.engine import inputs as ins
from meterbook.scenarios.types import format_at

Data = dict[str, Any]


class Unwritable(ValueError):
    """An input that format 1 cannot express (none that a file or from_scenario makes)."""


def amount(value: Decimal) -> str:
    """A decimal string as the format writes amounts: fixed point, its exponent kept
    (`str` would write 0.00000000 as 0E-8, which the format does not read)."""
    return format(value, "f")


def _ids(values: frozenset[str] | None) -> list[str] | None:
    """A set of ids as the file's list, sorted (the engine keeps it as a set)."""
    return sorted(values) if values is not None else None


def _put(out: Data, key: str, value: object) -> None:
    """Set an optional field only when it has a value."""
    if value is not None:
        out[key] = value


def price_fields(price: Price, currency: str) -> Data:
    """`price` or `tiers`, and `credit_type` unless the price is in the currency."""
    out: Data = {}
    if price.flat is not None:
        out["price"] = amount(price.flat)
    elif price.tiers is not None:
        out["tiers"] = [{"price": amount(p)} if up is None else {"up_to": amount(up), "price": amount(p)}
                        for up, p in price.tiers]
    else:
        raise Unwritable(f"a price in {price.unit} has neither a flat price nor tiers")
    if price.unit != currency:
        out["credit_type"] = price.unit
    return out


def rate(product: str, starting_at: int, price: Price, currency: str) -> Data:
    """One rate of a rate card or a contract's overrides (from always: no `starting_at`)."""
    out: Data = {"product": product, **price_fields(price, currency)}
    if starting_at != -FOREVER:
        out["starting_at"] = format_at(starting_at)
    return out


def credit_type(unit: Unit) -> Data:
    """A created unit as a `credit_types` entry."""
    if unit.is_currency:
        raise Unwritable(f"unit {unit.id} is a currency; format 1 creates credit types only")
    out: Data = {"id": unit.id, "decimals": unit.decimals}
    _put(out, "fiat_per_credit", amount(unit.fiat_per_credit) if unit.fiat_per_credit is not None else None)
    return out


def product(p: Product) -> Data:
    """A product as a `products` entry (filters as sorted lists)."""
    out: Data = {"id": p.id, "name": p.name, "type": p.kind}
    if p.metric is not None:
        m = p.metric
        metric: Data = {"event_type": m.event_type, "aggregation": m.aggregation}
        _put(metric, "property", m.property)
        if m.filters:
            metric["filters"] = {name: sorted(values) for name, values in m.filters}
        out["metric"] = metric
    return out


def grant(g: GrantTemplate, currency: str) -> Data:
    """A credit or commit of a contract (its id as resolved: `credit-0` when none was given)."""
    out: Data = {"id": g.id}
    if g.unit != currency:
        out["credit_type"] = g.unit
    out["amount"] = amount(g.amount)
    out["priority"] = g.priority
    _put(out, "start", format_at(g.start) if g.start is not None else None)
    _put(out, "end", format_at(g.end) if g.end is not None else None)
    _put(out, "months", g.months)
    _put(out, "products", _ids(g.products))
    out["child_access"] = g.child_access if isinstance(g.child_access, str) else sorted(g.child_access)
    if g.kind == "commit":
        if g.commit_type is None:
            raise Unwritable(f"commit {g.id} has no type")
        out["type"] = g.commit_type
        out["invoice"] = [{"amount": amount(a)} if at is None else {"at": format_at(at), "amount": amount(a)}
                          for at, a in g.invoice]
    return out


def subscription(sub: SubscriptionSpec) -> Data:
    """A subscription (a seat-based one counts its seats: no quantity)."""
    out: Data = {"id": sub.id, "product": sub.product}
    if sub.seat_based:
        if sub.quantity != 0:
            raise Unwritable(f"seat-based subscription {sub.id} has a quantity")
        out["seat_based"] = True
    else:
        out["quantity"] = sub.quantity
    out["proration"] = sub.proration
    return out


def recurring(r: RecurringSpec, currency: str) -> Data:
    """A recurring credit."""
    out: Data = {"id": r.id}
    if r.unit != currency:
        out["credit_type"] = r.unit
    out["amount"] = amount(r.amount)
    _put(out, "per_seat_of", r.per_seat_of)
    out["allocation"] = r.allocation
    out["seat_key"] = r.seat_key
    out["priority"] = r.priority
    _put(out, "rollover", amount(r.rollover) if r.rollover is not None else None)
    _put(out, "products", _ids(r.products))
    return out


def contract(terms: ContractTerms, currency: str) -> Data:
    """Contract or package terms as the file writes a contract. from_scenario lists a
    contract's credits before its commits, so splitting them by kind keeps their order."""
    kinds = [g.kind for g in terms.grants]
    if kinds != sorted(kinds, key=lambda k: k == "commit"):
        raise Unwritable(f"grants of rate card {terms.rate_card}'s contract list a commit before a credit")
    out: Data = {"rate_card": terms.rate_card}
    if terms.overrides:
        out["overrides"] = [rate(p, at, price, currency) for p, at, price in terms.overrides]
    if terms.subscriptions:
        out["subscriptions"] = [subscription(s) for s in terms.subscriptions]
    commits = [grant(g, currency) for g in terms.grants if g.kind == "commit"]
    credits = [grant(g, currency) for g in terms.grants if g.kind == "credit"]
    if commits:
        out["commits"] = commits
    if credits:
        out["credits"] = credits
    if terms.recurring:
        out["recurring_credits"] = [recurring(r, currency) for r in terms.recurring]
    out["on_exhausted"] = terms.on_exhausted
    return out


# -- one writer per kind of input: (the entry's command, its body) -------------------------

def _usage(item: ins.RecordUsage, currency: str) -> tuple[str, Data]:
    out: Data = {"id": item.id, "customer": item.customer, "event_type": item.event_type,
                 "properties": item.properties}
    _put(out, "timestamp", format_at(item.timestamp_us) if item.timestamp_us is not None else None)
    return "usage", out


def _customer(item: ins.CreateCustomer, currency: str) -> tuple[str, Data]:
    start = item.start_us if item.start_us is not None else item.at_us
    out: Data = {"id": item.customer, "name": item.name, "start": format_at(start)}
    if item.package is not None:
        out["package"] = item.package
    elif item.terms is not None:
        out["contract"] = contract(item.terms, currency)
    else:
        raise Unwritable(f"customer {item.customer} has neither a package nor a contract")
    if item.seats:
        out["seats"] = list(item.seats)
    _put(out, "parent", item.parent)
    if item.payer != "self":
        out["payer"] = item.payer
    return "create_customer", out


def _seats(command: str) -> Callable[[Any, str], tuple[str, Data]]:
    def write(item: ins.AddSeats | ins.RemoveSeats, currency: str) -> tuple[str, Data]:
        return command, {"customer": item.customer, "subscription": item.subscription, "seats": list(item.seats)}
    return write


def _quantity(item: ins.SetQuantity, currency: str) -> tuple[str, Data]:
    return "set_quantity", {"customer": item.customer, "subscription": item.subscription, "quantity": item.quantity}


def _buy(item: ins.BuyCredits, currency: str) -> tuple[str, Data]:
    out: Data = {"id": item.grant, "customer": item.customer}
    if item.unit != currency:
        out["credit_type"] = item.unit
    out["amount"] = amount(item.amount)
    out["price"] = amount(item.price)
    out["priority"] = item.priority
    if item.end_us != FOREVER:
        out["end"] = format_at(item.end_us)
    _put(out, "products", _ids(item.products))
    return "buy_credits", out


def _change(item: ins.ChangePackage, currency: str) -> tuple[str, Data]:
    return ("migrate_package" if item.migrate else "change_package"), {"customer": item.customer, "to": item.package}


def _parent(item: ins.SetParent, currency: str) -> tuple[str, Data]:
    out: Data = {"customer": item.customer, "parent": item.parent}  # parent is required: null moves to the top
    _put(out, "payer", item.payer)
    return "set_parent", out


def _update_rate(item: ins.UpdateRate, currency: str) -> tuple[str, Data]:
    return "update_rate", {"rate_card": item.rate_card, "product": item.product,
                           **price_fields(item.price, currency)}


def _update_package(item: ins.UpdatePackage, currency: str) -> tuple[str, Data]:
    return "update_package", {"package": item.package, **contract(item.terms, currency)}


def _create_credit_type(item: ins.CreateCreditType, currency: str) -> tuple[str, Data]:
    return "create_credit_type", credit_type(item.unit)


def _create_product(item: ins.CreateProduct, currency: str) -> tuple[str, Data]:
    return "create_product", product(item.product)


def _create_rate_card(item: ins.CreateRateCard, currency: str) -> tuple[str, Data]:
    return "create_rate_card", {"id": item.rate_card,
                                "rates": [rate(r.product, r.starting_at, r.price, currency) for r in item.rates]}


def _create_package(item: ins.CreatePackage, currency: str) -> tuple[str, Data]:
    return "create_package", {"id": item.package, **contract(item.terms, currency)}


def _edit_contract(item: ins.EditContract, currency: str) -> tuple[str, Data]:
    """Grant ids and override starts are written as resolved, so they read back the same."""
    out: Data = {"customer": item.customer}
    commits = [grant(g, currency) for g in item.grants if g.kind == "commit"]
    credits = [grant(g, currency) for g in item.grants if g.kind == "credit"]
    if commits:
        out["add_commits"] = commits
    if credits:
        out["add_credits"] = credits
    if item.subscriptions:
        out["add_subscriptions"] = [subscription(sub) for sub in item.subscriptions]
    if item.recurring:
        out["add_recurring_credits"] = [recurring(r, currency) for r in item.recurring]
    if item.overrides:
        out["add_overrides"] = [rate(p, at, price, currency) for p, at, price in item.overrides]
    return "edit_contract", out


WRITERS: dict[type[ins.Input], Callable[[Any, str], tuple[str, Data]]] = {
    ins.RecordUsage: _usage,
    ins.CreateCustomer: _customer,
    ins.AddSeats: _seats("add_seats"),
    ins.RemoveSeats: _seats("remove_seats"),
    ins.SetQuantity: _quantity,
    ins.BuyCredits: _buy,
    ins.ChangePackage: _change,
    ins.SetParent: _parent,
    ins.UpdateRate: _update_rate,
    ins.UpdatePackage: _update_package,
    ins.CreateCreditType: _create_credit_type,
    ins.CreateProduct: _create_product,
    ins.CreateRateCard: _create_rate_card,
    ins.CreatePackage: _create_package,
    ins.EditContract: _edit_contract,
}


def entry_of(item: ins.Input, currency: str) -> Data:
    """The timeline entry of one input: `{at, id, <command>: body}` (a usage entry has no `id:`,
    its event's id is its input id). `currency`: the scenario's, the default unit of prices
    and grants."""
    writer = WRITERS.get(type(item))
    if writer is None:
        raise Unwritable(f"no timeline entry for a {type(item).__name__} input")
    command, body = writer(item, currency)
    if command == "usage":
        return {"at": format_at(item.at_us), "usage": body}
    return {"at": format_at(item.at_us), "id": item.id, command: body}
