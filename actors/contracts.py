"""Contract terms made concrete for one customer: grant dates from its start (pure)."""

from __future__ import annotations

from meterbook.actors.catalog import FOREVER, ContractSpec, ContractTerms, GrantSpec, GrantTemplate
from meterbook.actors.periods import add_months


def contract_of(terms: ContractTerms, start: int, package: str | None = None, version: int = 0,
                relative_to: int | None = None) -> ContractSpec:
    """The ContractSpec of a customer starting at `start`. A package's absolute grant dates
    are shifted by the customer's start when `relative_to` gives the package's reference."""
    shift = 0 if relative_to is None else start - relative_to
    return ContractSpec(rate_card=terms.rate_card, overrides=terms.overrides, subscriptions=terms.subscriptions,
                        grants=tuple(grant_spec(g, start, shift) for g in terms.grants), recurring=terms.recurring,
                        on_exhausted=terms.on_exhausted, package=package, version=version)


def grant_spec(g: GrantTemplate, start: int, shift: int = 0) -> GrantSpec:
    """One credit or commit made concrete: no `start` means `start`; given dates move by
    `shift`; `months` ends it that many calendar months after it begins; an invoice item
    without a date is billed at the grant's start. Used for a contract's grants and for the
    grants edit_contract adds (`start` then is the edit's instant)."""

    def at(value: int | None, default: int) -> int:
        return default if value is None else value + shift

    begins = at(g.start, start)
    if g.months is not None:
        end = add_months(begins, g.months)
    else:
        end = at(g.end, FOREVER) if g.end is not None else FOREVER
    return GrantSpec(id=g.id, kind=g.kind, commit_type=g.commit_type, unit=g.unit, amount=g.amount,
                     priority=g.priority, start=begins, end=end, products=g.products, child_access=g.child_access,
                     invoice=tuple((at(item_at, begins), amount) for item_at, amount in g.invoice))
