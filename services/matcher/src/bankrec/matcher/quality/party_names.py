"""Names of generated customers and suppliers, and the ways a bank statement prints them.

A ledger knows "Hansen Bygg AS"; the statement says "HANSEN BYGG A/S", "Hansen Bygg",
"HANSEN BYGG AS AVD BERGEN", "SORENSEN ROR AS" (a bank that cannot print Ø) or the name
cut at 35 characters. ``printed_name`` makes one of those variants.
"""

from __future__ import annotations

import random

SURNAMES: dict[str, tuple[str, ...]] = {
    "NO": (
        "Hansen", "Johansen", "Olsen", "Larsen", "Andersen", "Pedersen", "Nilsen", "Kristiansen",
        "Jensen", "Karlsen", "Johnsen", "Pettersen", "Eriksen", "Berg", "Haugen", "Hagen",
        "Johannessen", "Andreassen", "Jacobsen", "Dahl", "Jørgensen", "Halvorsen", "Henriksen",
        "Lund", "Sørensen", "Moen", "Gundersen", "Iversen", "Strand", "Solberg", "Svendsen",
        "Eide", "Knutsen", "Martinsen", "Paulsen", "Bakken", "Mathisen", "Lie", "Amundsen",
        "Rasmussen", "Lunde", "Solheim", "Berge", "Moe", "Nygård", "Bakke", "Kristoffersen",
        "Fjeld", "Aas", "Holm", "Vik", "Ødegård", "Sæther", "Bråten", "Husby", "Tangen",
    ),
    "SE": (
        "Andersson", "Johansson", "Karlsson", "Nilsson", "Eriksson", "Larsson", "Olsson",
        "Persson", "Svensson", "Gustafsson", "Lindqvist", "Björk", "Lindström", "Åberg",
    ),
    "DK": (
        "Nielsen", "Jensen", "Hansen", "Pedersen", "Andersen", "Christensen", "Larsen",
        "Sørensen", "Rasmussen", "Jørgensen", "Madsen", "Kristensen", "Østergaard",
    ),
    "FI": (
        "Korhonen", "Virtanen", "Mäkinen", "Nieminen", "Mäkelä", "Hämäläinen", "Laine",
        "Heikkinen", "Koskinen", "Järvinen", "Lehtonen", "Saarinen",
    ),
    "DE": (
        "Müller", "Schmidt", "Schneider", "Fischer", "Weber", "Meyer", "Wagner", "Becker",
        "Schulz", "Hoffmann", "Schäfer", "Koch", "Bauer", "Richter", "Klein", "Wolf",
    ),
}  # fmt: skip
FIRST_NAMES: dict[str, tuple[str, ...]] = {
    "NO": ("Kari", "Ola", "Per", "Anne", "Ingrid", "Lars", "Marit", "Bjørn", "Silje", "Håkon"),
    "SE": ("Anna", "Erik", "Lars", "Karin", "Johan", "Maria"),
    "DK": ("Mette", "Søren", "Jens", "Hanne", "Mads"),
    "FI": ("Mikko", "Aino", "Juha", "Liisa"),
    "DE": ("Thomas", "Sabine", "Michael", "Petra", "Jürgen"),
}
TRADES: dict[str, tuple[str, ...]] = {
    "NO": (
        "Bygg", "Rør", "Elektro", "Transport", "Regnskap", "Maskin", "Eiendom", "Consulting",
        "Handel", "Snekkeri", "Maling", "Taktekking", "Anlegg", "Sjømat", "Gartneri",
        "Bilservice", "Data", "Media", "Verksted", "Entreprenør", "Renhold", "Catering",
    ),
    "SE": ("Bygg", "Konsult", "Transport", "Handel", "Fastigheter", "Data", "Måleri"),
    "DK": ("Byg", "Transport", "Handel", "Consult", "Ejendomme", "Maskiner"),
    "FI": ("Rakennus", "Kuljetus", "Kauppa", "Konsultointi", "Tekniikka"),
    "DE": ("Bau", "Logistik", "Handel", "Technik", "Beratung", "Maschinenbau"),
}  # fmt: skip
LEGAL_FORMS: dict[str, tuple[str, ...]] = {
    "NO": ("AS", "AS", "AS", "AS", "ASA", "DA", "ANS"),
    "SE": ("AB", "AB", "AB", "HB"),
    "DK": ("ApS", "A/S", "ApS"),
    "FI": ("Oy", "Oy", "Oyj"),
    "DE": ("GmbH", "GmbH", "GmbH & Co. KG", "AG"),
}
CITIES = ("OSLO", "BERGEN", "TRONDHEIM", "STAVANGER", "TROMSØ", "DRAMMEN", "KRISTIANSAND")
PRINTED_NAME_LENGTH_MAX = 35  # what many banks keep of a payer's name (SEPA's old limit)
_ASCII_BANK = str.maketrans({"Ø": "O", "ø": "o", "Æ": "AE", "æ": "ae", "Å": "A", "å": "a",
                             "Ä": "A", "ä": "a", "Ö": "O", "ö": "o", "Ü": "U", "ü": "u"})  # fmt: skip


def company_name(country: str, rng: random.Random) -> str:
    """A company as the ledger registers it, e.g. ``Hansen Bygg AS``."""
    surname = rng.choice(SURNAMES[country])
    trade = rng.choice(TRADES[country])
    form = rng.choice(LEGAL_FORMS[country])
    if rng.random() < 0.15:
        return f"{surname} & {rng.choice(SURNAMES[country])} {trade} {form}"
    return f"{surname} {trade} {form}"


def person_name(country: str, rng: random.Random) -> str:
    """A private person, e.g. ``Kari Nordmann``."""
    return f"{rng.choice(FIRST_NAMES[country])} {rng.choice(SURNAMES[country])}"


def printed_name(name: str, rng: random.Random, *, person: bool = False) -> str:
    """How a bank statement shows the name: one realistic variant, often upper case."""
    roll = rng.random()
    if roll < 0.25:
        printed = name
    elif roll < 0.50:
        printed = name.upper()
    elif roll < 0.60:
        printed = name.upper().translate(_ASCII_BANK)
    elif person:
        first, _, last = name.partition(" ")
        printed = f"{last} {first}".upper()
    elif roll < 0.72 and name.endswith(" AS"):
        printed = name[: -len(" AS")].upper() + rng.choice((" A/S", " A.S.", " AS."))
    elif roll < 0.84:
        words = name.split()
        printed = " ".join(words[:-1]) if len(words) > 2 else name  # without the legal form
    elif roll < 0.92:
        printed = f"{name.upper()} AVD {rng.choice(CITIES)}"
    else:
        printed = name.replace(" ", "-", 1).upper()
    return printed[:PRINTED_NAME_LENGTH_MAX].rstrip()
