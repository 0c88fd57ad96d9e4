"""Stage 7, deliver: hand a finished mail to a Maildir or an SMTP server.

Entry point: :func:`make_transport`. ``transports`` holds the transports, ``mailmessage`` the header
hygiene and unsubscribe links.
"""

from monitor.deliver.transports import make_transport

__all__ = ["make_transport"]
