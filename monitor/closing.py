"""One base for the resources opened once and closed after use: ``with thing:`` closes it."""

from __future__ import annotations

from types import TracebackType
from typing import Self


class Closing:
    """``with obj:`` returns ``obj`` and calls :meth:`close` on the way out, error or not."""

    def close(self) -> None:  # pragma: no cover - overridden
        """Release what the object holds."""

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
