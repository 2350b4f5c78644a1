"""Confidences the rules give, in one place so they can be compared and tuned together.

A decision's confidence says how strong its proof is (1 = the payer named the item with a
valid check digit); a proposal's says how likely a person will choose it.
"""

from __future__ import annotations

from decimal import Decimal

# proofs
REFERENCE_FULL = Decimal("1.0")  # valid KID/RF naming one item, amount equals remaining
REFERENCE_PARTIAL = Decimal("0.95")  # valid KID/RF naming one item, amount below remaining
EXACT_AMOUNT = Decimal("0.8")  # the only open item of the tenant with that remaining amount
NO_PROOF = Decimal("0")  # suspense: no rule proved anything

# proposals (suspense)
REFERENCE_OVERPAID = Decimal("0.9")  # valid reference names the item, but the line pays more
REFERENCE_AMBIGUOUS = Decimal("0.6")  # valid reference names several open items
REFERENCE_MISFIT = Decimal("0.3")  # valid reference names an item of other currency/sign/account
REFERENCE_NEAR_MISS = Decimal("0.4")  # reference one typo away (or equal with a bad check digit)
AMOUNT_AMBIGUOUS = Decimal("0.5")  # one of several open items with the line's amount
