"""The LLM layer: one interface (`LLM.stream`, `LLM.complete`) over two providers.

    llm = get_llm(current_app.config)
    task = weekly_review_task(entries, week="2026-W47", locale="en")
    for chunk in llm.stream(task, user_id=user.id): ...   # raises LLMError
    text = llm.complete(structure_task(text), user_id=user.id); parse_structure(text)

Every call writes one row to the ledger (`LLMCall`) when it ends, however it ends.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from app.services.llm.base import LLM, PURPOSES, LLMError, LLMTask, estimate_tokens
from app.services.llm.offline import OfflineLLM
from app.services.llm.openai_provider import OpenAILLM
from app.services.llm.prompts import (
    DATA_CLOSE,
    DATA_OPEN,
    ask_task,
    build_messages,
    entry_fact,
    read_data_block,
    structure_task,
    weekly_review_task,
)
from app.services.llm.structure import parse_structure, propose_structure, tech_tags

__all__ = [
    "DATA_CLOSE", "DATA_OPEN", "LLM", "PURPOSES", "LLMError", "LLMTask", "OfflineLLM", "OpenAILLM",
    "ask_task", "build_messages", "entry_fact", "estimate_tokens", "get_llm", "parse_structure",
    "propose_structure", "read_data_block", "structure_task", "tech_tags", "weekly_review_task",
]


def get_llm(config: Mapping[str, Any]) -> LLM:
    """The configured provider (LLM_PROVIDER: offline, the default, or openai)."""
    provider = (config.get("LLM_PROVIDER") or "offline").lower()
    if provider == "offline":
        return OfflineLLM(chunk_delay=float(config.get("LLM_OFFLINE_CHUNK_DELAY", 0.02)))
    if provider == "openai":
        return OpenAILLM.from_config(config)
    raise ValueError(f"unknown LLM_PROVIDER {provider!r}")
