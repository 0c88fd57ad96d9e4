"""Stage 6, render: a frozen digest into a mail (text and HTML parts from ``templates/``).

Entry point: :func:`build_message`. ``digest`` renders, ``view`` is the view model the templates
print, ``sample`` a sample digest with every rendering case.
"""

from monitor.render.digest import build_message

__all__ = ["build_message"]
