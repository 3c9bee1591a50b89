"""An `edit_contract` input checked against the catalog and made into the customer's message.

What an edit names (credit types, products) must exist at its instant, and nothing it adds
may start before its `at` (the grace is 0). What depends on the customer's own state (ids it
already has, the subscriptions a per-seat credit follows, prices) the Customer checks itself
(actors/customer_edits.py). Both raise before anything changes, naming the input's field."""

from __future__ import annotations

from meterbook.actors.catalog import Catalog, GrantSpec, GrantTemplate
from meterbook.actors.contracts import grant_spec
from meterbook.actors.messages import EditContract
from meterbook.engine import inputs as ins
from meterbook.errors import InputError
from meterbook.scenarios.live_time import back_dated, grace_note
from meterbook.scenarios.types import format_at


def edit_message(catalog: Catalog, item: ins.EditContract, cause: str, grace_seconds: int = 0) -> EditContract:
    """The customer's message for an edit, its grants made concrete from the edit's `at`
    (their dates may precede it by up to the grace)."""
    check = _Check(catalog, item, grace_seconds)
    grants = tuple(check.grant(g, k) for g, k in zip(item.grants, _places(item), strict=True))
    for k, sub in enumerate(item.subscriptions):
        check.subscription_product(sub.product, f"$.add_subscriptions[{k}].product")
    for k, rc in enumerate(item.recurring):
        field = f"$.add_recurring_credits[{k}]"
        check.unit(rc.unit, f"{field}.credit_type")
        check.products(rc.products, f"{field}.products")
        if rc.allocation == "individual" and rc.per_seat_of is None:
            check.refuse(f"{field}.allocation", "individual allocation needs per_seat_of")
    for k, (product, starting_at, price) in enumerate(item.overrides):
        field = f"$.add_overrides[{k}]"
        if product not in catalog.products:
            check.refuse(f"{field}.product", f"unknown product {product!r}")
        check.unit(price.unit, f"{field}.credit_type")
        check.not_before(starting_at, f"{field}.starting_at")
    return EditContract(grants=grants, subscriptions=item.subscriptions, recurring=item.recurring,
                        overrides=item.overrides, cause=cause)


def _places(item: ins.EditContract) -> list[str]:
    """Each grant's path in the input: its place among the added credits or commits."""
    counts = {"credit": 0, "commit": 0}
    out = []
    for g in item.grants:
        out.append(f"$.add_{g.kind}s[{counts[g.kind]}]")
        counts[g.kind] += 1
    return out


class _Check:
    """The refusals of one edit, each naming the input and a field."""

    def __init__(self, catalog: Catalog, item: ins.EditContract, grace_seconds: int) -> None:
        self.catalog = catalog
        self.item = item
        self.grace_seconds = grace_seconds

    def refuse(self, field: str, reason: str) -> None:
        raise InputError(self.item.id, field, reason)

    def unit(self, unit: str, field: str) -> None:
        """A credit type (or the currency) that exists now."""
        if unit not in self.catalog.units:
            self.refuse(field, f"unknown credit type {unit!r}")

    def products(self, products: frozenset[str] | None, field: str) -> None:
        """The products a grant may pay for, each existing now."""
        for product in sorted(products or ()):
            if product not in self.catalog.products:
                self.refuse(field, f"unknown product {product!r}")

    def subscription_product(self, product: str, field: str) -> None:
        """A subscription names an existing subscription product."""
        found = self.catalog.products.get(product)
        if found is None:
            self.refuse(field, f"unknown product {product!r}")
        elif found.kind != "subscription":
            self.refuse(field, f"{product!r} is not a subscription product")

    def not_before(self, at_us: int | None, field: str) -> None:
        """An instant an addition gives must not precede the edit's `at` by more than the grace."""
        if at_us is not None and back_dated(at_us, self.item.at_us, self.grace_seconds) == "grace":
            self.refuse(field, f"{format_at(at_us)} is before the edit's at ({format_at(self.item.at_us)})"
                               f"{grace_note(self.grace_seconds)}")

    def grant(self, g: GrantTemplate, field: str) -> GrantSpec:
        """An added credit or commit: known unit and products, dated from the edit on."""
        self.unit(g.unit, f"{field}.credit_type")
        self.products(g.products, f"{field}.products")
        self.not_before(g.start, f"{field}.start")
        for m, (item_at, _) in enumerate(g.invoice):
            self.not_before(item_at, f"{field}.invoice[{m}].at")
        spec = grant_spec(g, self.item.at_us)
        if spec.end <= spec.start:
            self.refuse(f"{field}.end", f"{format_at(spec.end)} is not after the grant starts ({format_at(spec.start)})")
        return spec
