"""The domain: typed messages, catalog types, pure pricing functions and the actors."""

from actors.accounts import Chart
from actors.catalog import Catalog, ContractSpec, GrantSpec, Price, RateCard, RecurringSpec, Unit
from actors.customer import Customer
from actors.errors import CommandError

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
