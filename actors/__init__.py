"""The domain: typed messages, catalog types, pure pricing functions and the actors."""

from meterbook.actors.accounts import Chart
from meterbook.actors.catalog import Catalog, ContractSpec, GrantSpec, Price, RateCard, RecurringSpec, Unit
from meterbook.actors.customer import Customer
from meterbook.actors.errors import CommandError

__all__ = [
    "Catalog",
    "Chart",
    "CommandError",
    "ContractSpec",
    "Customer",
    "GrantSpec",
    "Price",
    "RateCard",
    "RecurringSpec",
    "Unit",
]
