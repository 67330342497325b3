"""What every row function receives: run size (full or --quick) and a progress log."""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass, field


@dataclass
class Context:
    quick: bool = False
    started: float = field(default_factory=time.monotonic)

    def n(self, full: int, quick: int) -> int:
        """A sample size: the full run's, or the smaller one of --quick."""
        return quick if self.quick else full

    def log(self, message: str) -> None:
        """Progress to stderr (stdout ends with the table)."""
        print(f"[bench {time.monotonic() - self.started:6.1f}s] {message}", file=sys.stderr, flush=True)
