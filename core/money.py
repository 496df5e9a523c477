"""Money is an integer in minor units plus an ISO 4217 currency code; never a float.

Every conversion between what a person types or reads (a decimal amount) and what we store or send to
a provider (minor units) goes through this module, so the currency's exponent is looked up in one place:
0 for JPY or KRW, 2 for GBP, EUR and USD, 3 for BHD, JOD, KWD, OMR and TND. A code we do not know is
refused rather than guessed at.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

from .exceptions import DomainError

# ISO 4217 minor-unit exponents. Codes not listed in the two special tables have two decimals.
_ZERO_DECIMAL = frozenset(
    [
        "BIF",
        "CLP",
        "DJF",
        "GNF",
        "ISK",
        "JPY",
        "KMF",
        "KRW",
        "PYG",
        "RWF",
        "UGX",
        "UYI",
        "VND",
        "VUV",
        "XAF",
        "XOF",
        "XPF",
    ]
)
_THREE_DECIMAL = frozenset(["BHD", "IQD", "JOD", "KWD", "LYD", "OMR", "TND"])
_FOUR_DECIMAL = frozenset(("CLF", "UYW"))
_TWO_DECIMAL = frozenset(
    [
        "AED",
        "AFN",
        "ALL",
        "AMD",
        "ANG",
        "AOA",
        "ARS",
        "AUD",
        "AWG",
        "AZN",
        "BAM",
        "BBD",
        "BDT",
        "BGN",
        "BMD",
        "BND",
        "BOB",
        "BRL",
        "BSD",
        "BTN",
        "BWP",
        "BYN",
        "BZD",
        "CAD",
        "CDF",
        "CHF",
        "CNY",
        "COP",
        "CRC",
        "CUP",
        "CVE",
        "CZK",
        "DKK",
        "DOP",
        "DZD",
        "EGP",
        "ERN",
        "ETB",
        "EUR",
        "FJD",
        "FKP",
        "GBP",
        "GEL",
        "GHS",
        "GIP",
        "GMD",
        "GTQ",
        "GYD",
        "HKD",
        "HNL",
        "HTG",
        "HUF",
        "IDR",
        "ILS",
        "INR",
        "IRR",
        "JMD",
        "KES",
        "KGS",
        "KHR",
        "KPW",
        "KYD",
        "KZT",
        "LAK",
        "LBP",
        "LKR",
        "LRD",
        "LSL",
        "MAD",
        "MDL",
        "MGA",
        "MKD",
        "MMK",
        "MNT",
        "MOP",
        "MRU",
        "MUR",
        "MVR",
        "MWK",
        "MXN",
        "MYR",
        "MZN",
        "NAD",
        "NGN",
        "NIO",
        "NOK",
        "NPR",
        "NZD",
        "PAB",
        "PEN",
        "PGK",
        "PHP",
        "PKR",
        "PLN",
        "QAR",
        "RON",
        "RSD",
        "RUB",
        "SAR",
        "SBD",
        "SCR",
        "SDG",
        "SEK",
        "SGD",
        "SHP",
        "SLE",
        "SOS",
        "SRD",
        "SSP",
        "STN",
        "SVC",
        "SYP",
        "SZL",
        "THB",
        "TJS",
        "TMT",
        "TOP",
        "TRY",
        "TTD",
        "TWD",
        "TZS",
        "UAH",
        "USD",
        "UYU",
        "UZS",
        "VES",
        "WST",
        "XCD",
        "YER",
        "ZAR",
        "ZMW",
        "ZWG",
    ]
)

CURRENCY_SYMBOLS = {"GBP": "£", "USD": "$", "EUR": "€"}


class UnsupportedCurrency(DomainError):
    """A currency code that is not an ISO 4217 code we know the exponent of."""


class InvalidAmount(DomainError):
    """An amount a person typed that is not a valid amount of that currency."""


def exponent(currency: str) -> int:
    """How many decimal places the currency's minor unit has (ISO 4217)."""
    code = (currency or "").upper()
    if code in _TWO_DECIMAL:
        return 2
    if code in _ZERO_DECIMAL:
        return 0
    if code in _THREE_DECIMAL:
        return 3
    if code in _FOUR_DECIMAL:
        return 4
    raise UnsupportedCurrency(f"{currency!r} is not a currency we support.")


def minor_per_major(currency: str) -> int:
    """10 ** exponent: 100 for GBP, 1 for JPY, 1000 for KWD."""
    return 10 ** exponent(currency)


def to_minor(amount: Decimal | int | str, currency: str) -> int:
    """A decimal amount as a person writes it (12.50 GBP) → minor units (1250).

    More decimals than the currency has is refused, never rounded: ¥100.5 or £1.005 is a typo, and
    rounding it would send a different amount than the one the person read.
    """
    try:
        value = Decimal(str(amount).strip()) if not isinstance(amount, Decimal) else amount
    except (InvalidOperation, ValueError):
        raise InvalidAmount(f"{amount!r} is not an amount.") from None
    if not value.is_finite():
        raise InvalidAmount(f"{amount!r} is not an amount.")
    places = exponent(currency)
    minor = value.scaleb(places)
    if minor != minor.to_integral_value():
        noun = "decimal" if places == 1 else "decimals"
        raise InvalidAmount(
            f"{currency.upper()} amounts have {places} {noun}." if places else f"{currency.upper()} has no decimals."
        )
    return int(minor)


def minor_to_decimal(amount_minor: int, currency: str) -> Decimal:
    """Minor units → the decimal a person reads (1250 GBP → Decimal('12.50'), 500 JPY → Decimal('500'))."""
    places = exponent(currency)
    return Decimal(int(amount_minor)).scaleb(-places).quantize(Decimal(1).scaleb(-places))


def format_money(amount_minor: int | None, currency: str) -> str:
    """£1,234.50, -€3.00, ¥ as "500 JPY": a symbol only where it is unambiguous."""
    if amount_minor is None:
        return "—"
    value = minor_to_decimal(amount_minor, currency)
    sign = "-" if value < 0 else ""
    symbol = CURRENCY_SYMBOLS.get(currency.upper())
    text = f"{abs(value):,}"
    return f"{sign}{symbol}{text}" if symbol else f"{sign}{text} {currency.upper()}"
