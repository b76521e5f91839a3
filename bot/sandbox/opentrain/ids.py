"""Fresh ids for entities the simulator creates at run time (seeded ones are readable)."""

from __future__ import annotations

import uuid


def new_id(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex[:20]}"
