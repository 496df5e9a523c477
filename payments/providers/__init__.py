"""One thin module per payment provider; nothing outside this package talks to a provider.

Each module turns the provider's own failures into the small hierarchy in `errors`, so callers
handle "the provider said no", "the provider did not answer" and "this message is forged" alike.
"""
