"""CSV cells a spreadsheet opens safely: the console's message export, the campaign recipients export
and the contacts export write them through here."""

from __future__ import annotations

# A spreadsheet reads a cell starting with one of these as a formula (or a command to run): such a
# cell is written with a leading apostrophe, which makes it plain text there.
# Spreadsheets skip leading spaces, and some locales read the full-width signs as the ASCII ones.
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r", "\n", "\uff1d", "\uff0b", "\uff0d", "\uff20")


def neutralised(cell: str) -> str:
    """``cell`` as text a spreadsheet will not evaluate."""
    return f"'{cell}" if cell.lstrip(" ").startswith(_FORMULA_STARTS) else cell
