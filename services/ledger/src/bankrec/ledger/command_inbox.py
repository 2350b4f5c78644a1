"""The inbox steps every command from another service shares (adjustment and match requests).

A command is worked off in its own transaction (an idempotent manual action: applied again,
it answers the first result and posts nothing), then settled: the message is claimed in the
inbox and its answer (an outcome or a refusal event) staged, in one transaction. A crash
between the two delivers the command again, which finds the action done and settles it then;
a command claimed before is not worked off again.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from bankrec.contracts import Envelope, Topic
from bankrec.ledger.ports import TransactionFactory
from bankrec.ledger.use_cases import KEY_LENGTH_MAX


@dataclass(frozen=True, slots=True)
class Answer:
    """A message staged when a command is settled."""

    topic: Topic
    key: str
    envelope: Envelope[Any]


class CommandInbox:
    """One consumer's inbox for commands: was a message processed, and settle one."""

    def __init__(
        self,
        transactions: TransactionFactory,
        consumer: str,
        *,
        after_commit: Callable[[], None] = lambda: None,
    ) -> None:
        self._transactions = transactions
        self._consumer = consumer
        self._after_commit = after_commit  # wakes the outbox relay

    async def processed(self, message_id: str) -> bool:
        """Whether the message was claimed before (the claim made here is rolled back)."""
        async with self._transactions() as tx:
            return not await tx.claim_message(self._consumer, message_id)

    async def settle(self, message_id: str, answers: Sequence[Answer] = ()) -> bool:
        """Claim the message and stage its answers in one transaction; False (nothing staged)
        when it was claimed before."""
        async with self._transactions() as tx:
            if not await tx.claim_message(self._consumer, message_id):
                return False
            for answer in answers:
                await tx.stage(answer.topic, answer.key[:KEY_LENGTH_MAX], answer.envelope)
            await tx.commit()
        if answers:
            self._after_commit()
        return True


__all__ = ["Answer", "CommandInbox"]
