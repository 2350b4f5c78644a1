"""Confidences the rules give, in one place so they can be compared and tuned together.

A decision's confidence says how strong its proof is (1 = the payer named the item with a
valid check digit); a proposal's says how likely a person will choose it. The default
``auto_confirm_threshold`` is 0.9 (``policy.py``): proofs at or above it are confirmed
automatically, those below become proposal decisions. Amount-only evidence is never a proof
at all, so no threshold confirms it.
"""

from __future__ import annotations

from decimal import Decimal

# proofs: structured_reference
REFERENCE_FULL = Decimal("1.0")  # valid KID/RF naming one item, amount equals remaining
REFERENCE_PARTIAL = Decimal("0.95")  # valid KID/RF naming one item, amount below remaining

# proofs: registered_payment (a payment/journal line the books registered on this account)
REGISTERED_PAYMENT_TEXT = Decimal("0.97")  # amount, date within tolerance and text agree
REGISTERED_PAYMENT = Decimal("0.9")  # amount and date agree; no text on both sides to compare
REGISTERED_PAYMENT_TEXT_DIFFERS = Decimal("0.8")  # amount and date agree, the texts do not
REGISTERED_PAYMENT_NO_ACCOUNT = Decimal("0.8")  # the registered payment names no bank account

# proofs: document_number (an invoice number in the payer's text)
DOCUMENT_NAMED_FULL = Decimal("0.96")  # "Faktura 10234" names one item, amount = remaining
DOCUMENT_BARE_FULL = Decimal("0.92")  # a lone number (> 4 chars) names one item, amount = rem.
DOCUMENT_SEVERAL_FULL = Decimal("0.94")  # several numbers, one counterparty, remainings sum up
DOCUMENT_NAMED_PARTIAL = Decimal("0.9")  # "Faktura 10234" names one item, amount below remaining

# proofs: counterparty (the payer's account or name identifies one counterparty)
COUNTERPARTY_ACCOUNT_AMOUNT = Decimal("0.93")  # known account, their only item with the amount
COUNTERPARTY_NAME_AMOUNT = Decimal("0.85")  # alike name, their only item with the amount
COUNTERPARTY_ACCOUNT_BALANCE = Decimal("0.9")  # known account, pays all their open items
COUNTERPARTY_NAME_BALANCE = Decimal("0.8")  # alike name, pays all their open items
ON_ACCOUNT_BY_ACCOUNT = Decimal("0.8")  # known account, no item fits: on their account

# proofs: amount_text_date (seed 002's priority: amount, then text, then date)
AMOUNT_TEXT_DATE = Decimal("0.95")  # amount, text and date agree, one item only
AMOUNT_TEXT = Decimal("0.85")  # amount and text agree, the date is outside the tolerance

# proofs: amount_difference (the item proved by reference or number, a difference in tolerance)
REFERENCE_DIFFERENCE = Decimal("0.95")  # valid KID/RF names one item, difference in tolerance
DOCUMENT_DIFFERENCE = Decimal("0.92")  # "Faktura 10234" names one item, difference in tolerance

# proofs: reversal_pair (a line cancels an earlier line of the same account)
REVERSAL_FLAG_REFERENCE = Decimal("1.0")  # flagged reversal, same reference, opposite amount
REVERSAL_REFERENCE = Decimal("0.95")  # same reference, opposite amount, within the days
REVERSAL_FLAG_AMOUNT = Decimal("0.92")  # flagged reversal, the only opposite amount in the days

# proofs: posting_rule (the tenant's own standing instruction caught the line)
POSTING_RULE = Decimal("0.95")
POSTING_RULE_YIELDS_TO = Decimal("0.5")  # a proposal this sure: the line may pay an open item

NO_PROOF = Decimal("0")  # suspense: no rule proved anything

# proposals
REFERENCE_OVERPAID = Decimal("0.9")  # valid reference names the item, but the line pays more
REFERENCE_AMBIGUOUS = Decimal("0.6")  # valid reference names several open items
REFERENCE_MISFIT = Decimal("0.3")  # valid reference names an item of other currency/sign/account
REFERENCE_NEAR_MISS = Decimal("0.4")  # reference one typo away (or equal with a bad check digit)
DOCUMENT_OVERPAID = Decimal("0.7")  # the number names one item, the line pays more
DOCUMENT_AMOUNT_DIFFERS = Decimal("0.6")  # numbers name items whose remainings do not add up
DOCUMENT_COUNTERPARTY_DIFFERS = Decimal("0.6")  # the payer's account belongs to someone else
DOCUMENT_BARE_PARTIAL = Decimal("0.6")  # a lone number names one item, the line pays less
DOCUMENT_AMBIGUOUS = Decimal("0.5")  # one number names several open items
DOCUMENT_MISFIT = Decimal("0.3")  # the number names an item of other currency/sign/account
COUNTERPARTY_AMBIGUOUS = Decimal("0.5")  # the counterparty has several items with the amount
COUNTERPARTY_ITEM = Decimal("0.3")  # an open item of the identified counterparty, amount differs
REGISTERED_PAYMENT_AMBIGUOUS = Decimal("0.5")  # several registered payments fit
REGISTERED_PAYMENT_OTHER_DATE = Decimal("0.5")  # amount agrees, date outside the tolerance
AMOUNT_TEXT_AMBIGUOUS = Decimal("0.6")  # several items with the amount and an alike text
AMOUNT_DATE = Decimal("0.55")  # the only item with the amount, date agrees, no text agrees
AMOUNT_ONLY = Decimal("0.5")  # the only item with the line's amount, nothing else agrees
AMOUNT_AMBIGUOUS = Decimal("0.4")  # one of several open items with the line's amount
COUNTERPARTY_SUBSET_AMBIGUOUS = Decimal("0.4")  # one of several sets of their items adding up

# proofs: counterparty_subset (a known payer, the only set of their open items adding up to
# the line; amount-sum evidence, so a proposal unless the set is the payer's oldest items)
COUNTERPARTY_SUBSET_OLDEST = Decimal("0.9")  # known account, the set is their oldest items
COUNTERPARTY_SUBSET = Decimal("0.7")  # known account, the only set the line pays exactly
COUNTERPARTY_SUBSET_NAME_OLDEST = Decimal("0.8")  # alike name, the set is their oldest items
COUNTERPARTY_SUBSET_NAME = Decimal("0.6")  # alike name, the only set the line pays exactly
