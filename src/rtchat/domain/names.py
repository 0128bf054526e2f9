"""When two usernames are one name, and which names are refused as lookalikes. Pure.

Three rules, applied to every name a person asks for:

1. **Compatibility forms are the plain ones.** A name is kept in Unicode NFKC form, so the
   fullwidth `ａｌｉｃｅ`, the ligature in `ﬁ` or a superscript `²` are the `alice`, `fi` and
   `2` they stand for, on the screen too.
2. **Names compare after NFKC and case folding** (`casefold`, not `lower`: `STRASSE` is
   `straße`), and after folding the Cyrillic and Greek letters that are drawn like Latin
   ones into those Latin letters: `аӏісе` written all in Cyrillic is the name `alice`.
3. **A name's letters come from one script**, as in Unicode's "highly restrictive" profile
   (UTS #39): Latin alone, Cyrillic alone, Greek alone, Arabic alone..., or Latin with the
   scripts Japanese, Chinese and Korean writing mixes (Han with Hiragana and Katakana, with
   Bopomofo, or with Hangul). Digits, punctuation, symbols and combining marks go with any.
   `аlice` (a Cyrillic `а`, then Latin) is refused: no one types that but to pass as
   `alice`.

Python's `unicodedata` has no Script property, so a letter's script is read from its
character name ("CYRILLIC SMALL LETTER A"), whose first word names the script for every
letter NFKC leaves; the few exceptions are spelled out in `_SCRIPT_WORDS`.
"""

from __future__ import annotations

import unicodedata

# Letters drawn like a Latin letter, by script (both cases where both look alike). Folded
# into the Latin letter before names compare, so a whole-Cyrillic or whole-Greek lookalike
# of a Latin name is the same name. A letter that only resembles one in some fonts is left.
_LOOKALIKES = str.maketrans(
    {
        # Cyrillic
        "А": "A", "В": "B", "Е": "E", "Ѕ": "S", "І": "I", "Ј": "J", "К": "K", "М": "M",
        "Н": "H", "О": "O", "Р": "P", "С": "C", "Т": "T", "Х": "X", "У": "Y", "Ү": "Y",
        "Ԛ": "Q", "Ԝ": "W", "Һ": "H", "Ӏ": "I",
        "а": "a", "е": "e", "ѕ": "s", "і": "i", "ј": "j", "о": "o", "р": "p", "с": "c",
        "у": "y", "х": "x", "һ": "h", "ԁ": "d", "ԛ": "q", "ԝ": "w", "ӏ": "l", "ү": "y",
        # Greek
        "Α": "A", "Β": "B", "Ε": "E", "Ζ": "Z", "Η": "H", "Ι": "I", "Κ": "K", "Μ": "M",
        "Ν": "N", "Ο": "O", "Ρ": "P", "Τ": "T", "Υ": "Y", "Χ": "X", "Ϲ": "C", "Ϳ": "J",
        "ο": "o", "ν": "v", "ρ": "p", "ϲ": "c", "ϳ": "j", "χ": "x", "κ": "k", "ι": "i",
    }
)  # fmt: skip

# Scripts a name may mix (each set with its subsets); any other two scripts may not mix.
_MIXES = (
    frozenset({"LATIN", "HAN", "HIRAGANA", "KATAKANA"}),
    frozenset({"LATIN", "HAN", "BOPOMOFO"}),
    frozenset({"LATIN", "HAN", "HANGUL"}),
)

# First words of character names that are not the script's own name.
_SCRIPT_WORDS = {
    "CJK": "HAN",
    "IDEOGRAPHIC": "HAN",  # 々 〆: ideographic iteration and closing marks
    "KATAKANA-HIRAGANA": "",  # ー, the prolonged sound mark, serves both kana
    "HALFWIDTH": "",  # what NFKC leaves of halfwidth forms is punctuation-like
    "MODIFIER": "",  # spacing modifier letters: marks, with no script of their own
    "SMALL": "",
    "LETTERLIKE": "",
}


def display_form(name: str) -> str:
    """`name` as it is kept and shown: its NFKC form."""
    return unicodedata.normalize("NFKC", name)


def name_key(name: str) -> str:
    """The form two usernames share when they count as the same name (rules 1 and 2)."""
    folded = unicodedata.normalize("NFKC", name).translate(_LOOKALIKES).casefold()
    # Folding can leave forms NFKC would change, and lower-case letters the table holds.
    return unicodedata.normalize("NFKC", folded.translate(_LOOKALIKES))


def script_of(ch: str) -> str:
    """The script of a letter; "" for what goes with any script (digits, marks...)."""
    if not unicodedata.category(ch).startswith("L"):
        return ""
    word = unicodedata.name(ch, "").split(" ", 1)[0]
    return _SCRIPT_WORDS.get(word, word)


def scripts(name: str) -> frozenset[str]:
    """The scripts of `name`'s letters."""
    return frozenset(s for s in map(script_of, name) if s)


def mixes_scripts(name: str) -> bool:
    """Whether `name` mixes scripts that no one writing one language mixes (rule 3)."""
    found = scripts(name)
    return len(found) > 1 and not any(found <= allowed for allowed in _MIXES)
