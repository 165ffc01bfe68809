"""Pure checks the request schemas share, stated so the OpenAPI document can say them too."""

from __future__ import annotations

from typing import Any

NO_NUL = r"^[^\x00]*$"
"""A pattern for text: no NUL character, which no store can hold."""

NON_BLANK = r"^[^\x00]*[^\s\x1c-\x1f\x85\x00][^\x00]*$"
"""A pattern a text matches when it holds something besides whitespace (and no NUL).

JSON Schema's ``\\s`` (ECMAScript) lacks the four separators U+001C–U+001F
and U+0085 that Python's ``str.strip`` removes, so they are named too: a text
the document calls valid is then never blank to the domain.
"""


ONLY_THE_FILE = {
    "requestBody": {"content": {"multipart/form-data": {"schema": {"additionalProperties": False}}}}
}
"""An upload's form holds its file part and nothing else (added to its OpenAPI operation)."""


def integral(value: Any) -> Any:
    """A JSON number with no fraction (``3.0``) as the integer JSON Schema says it is.

    JSON Schema's ``integer`` admits ``3.0``; a strict ``int`` would refuse it.
    Booleans and fractions are left for the strict check to refuse.
    """
    if isinstance(value, float) and not isinstance(value, bool) and value.is_integer():
        return int(value)
    return value
