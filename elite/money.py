"""Money is an integer in minor units plus an ISO currency code; this formats it for people."""

from decimal import Decimal

CURRENCY_SYMBOLS = {"GBP": "£", "USD": "$", "EUR": "€"}
ZERO_DECIMAL_CURRENCIES = {"JPY", "KRW"}


def minor_to_decimal(amount_minor: int, currency: str) -> Decimal:
    if currency.upper() in ZERO_DECIMAL_CURRENCIES:
        return Decimal(amount_minor)
    return (Decimal(amount_minor) / 100).quantize(Decimal("0.01"))


def format_money(amount_minor: int | None, currency: str) -> str:
    if amount_minor is None:
        return "—"
    value = minor_to_decimal(amount_minor, currency)
    sign = "-" if value < 0 else ""
    symbol = CURRENCY_SYMBOLS.get(currency.upper())
    text = f"{abs(value):,}"
    return f"{sign}{symbol}{text}" if symbol else f"{sign}{text} {currency.upper()}"
