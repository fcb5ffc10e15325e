"""The one comparison of a received webhook signature with the expected one.

``hmac.compare_digest`` raises ``TypeError`` on ``str`` operands holding non-ASCII
characters, and a header is whatever bytes the sender chose (Starlette hands them over
decoded as Latin-1), so a single ``\\xe9`` used to turn a bad signature into a 500.
Both sides are compared as bytes instead: the expected value is ASCII (hex or base64),
and the received one is encoded without loss of its ASCII characters, so it can only
match when it is exactly the expected text.
"""

from __future__ import annotations

import hmac

__all__ = ["same_signature"]


def same_signature(expected: str, received: str) -> bool:
    """Constant-time equality of ``expected`` (ASCII) and ``received`` (any text), as bytes.

    Non-ASCII characters in ``received`` become multi-byte UTF-8 sequences (a lone surrogate
    becomes ``?``), none of which is in the hex or base64 alphabets, so they never match.
    """
    return hmac.compare_digest(expected.encode("ascii"), received.encode("utf-8", "replace"))
