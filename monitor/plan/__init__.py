"""Stage 5, plan: who gets what, when — the outbox of due digests, frozen and sent once.

Entry points: :func:`plan_due` and :func:`send_due` (``outbox``); ``subscriptions`` holds each
subscriber's state and the commands that show and change it.
"""

from monitor.plan.outbox import plan_due, send_due

__all__ = ["plan_due", "send_due"]
