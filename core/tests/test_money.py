from core.money import format_money


def test_known_currencies_use_their_symbol_with_two_decimals():
    assert format_money(12000, "GBP") == "£120.00"
    assert format_money(123456789, "USD") == "$1,234,567.89"


def test_negative_amounts_put_the_sign_before_the_symbol():
    assert format_money(-3000, "GBP") == "-£30.00"
    assert format_money(-5, "CHF") == "-0.05 CHF"


def test_zero_decimal_currencies_and_missing_amounts():
    assert format_money(500, "JPY") == "500 JPY"
    assert format_money(None, "GBP") == "—"
