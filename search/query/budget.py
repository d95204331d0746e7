"""What one request's vector search may touch, and what it did touch.

Every read path counts its work here: candidates (ids taken from the index and checked
against PostgreSQL), rounds (FAISS searches) and rows (crop rows read whole). The caps
come from SEARCH_MAX_CANDIDATES (per request, shared by its query vectors) and
SEARCH_MAX_ROUNDS (per query vector). A search stopped by a cap before it had ``k``
results says so: its ``truncated`` flag reaches the API and the page.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings


@dataclass
class Work:
    max_candidates: int
    max_rounds: int
    candidates: int = 0  # index ids checked against PostgreSQL (each once)
    rounds: int = 0  # FAISS searches
    rows: int = 0  # crop rows read whole (the results, and the SQL tail's ids)
    truncated: bool = False  # some query stopped at a cap before it had k results

    @classmethod
    def from_settings(cls) -> Work:
        return cls(max_candidates=settings.SEARCH_MAX_CANDIDATES, max_rounds=settings.SEARCH_MAX_ROUNDS)

    def allowance(self, queries_left: int) -> int:
        """Candidates the next query vector may take: an even share of what is left, at least 1."""
        return max((self.max_candidates - self.candidates) // max(queries_left, 1), 1)
