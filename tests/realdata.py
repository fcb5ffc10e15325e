"""Where the real captured vendor data lives (``../shared/realdata`` beside the project).

Override with ``TASKHUB_REALDATA``. Files there are read-only: never edit them.
"""

from __future__ import annotations

import os
from pathlib import Path

REALDATA = Path(
    os.environ.get(
        "TASKHUB_REALDATA", Path(__file__).resolve().parent.parent.parent / "shared" / "realdata"
    )
)
