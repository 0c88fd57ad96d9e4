"""Stage 3, store: the durable state in one SQLite file.

Entry point: :class:`Store`. ``sqlite`` is the store, ``migrations`` its numbered schema,
``sourcestate`` what it keeps about fetching each source.
"""

from monitor.store.sqlite import Store

__all__ = ["Store"]
