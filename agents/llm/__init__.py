"""LLM-feedback intrinsic rewards: annotators, the label store, reward models.

After ONI (Zheng et al. 2024) and Motif (Klissarov et al. 2023); the bonus that uses
these pieces is ``agents/bonuses/oni.py`` (``bonus=oni(retrieval, annotator=openai)``).

* :mod:`agents.llm.prompts` — prompt templates per task family, answer parsers;
* :mod:`agents.llm.annotators` — ``openai`` (any chat-completions endpoint), ``embedding``
  (zero-shot sentence similarity), ``rules`` (keywords);
* :mod:`agents.llm.http` — the stdlib asyncio HTTP client the ``openai`` annotator uses;
* :mod:`agents.llm.service` — the background labelling thread (never blocks training);
* :mod:`agents.llm.store` — the SQLite label store shared by runs, seeds and sweeps;
* :mod:`agents.llm.reward_models` — retrieval, classification, Bradley–Terry ranking;
* :mod:`agents.llm.embeddings` — sentence-transformers loader, hashed bag of words.

Importing this package imports nothing heavy (no JAX, no torch).
"""
