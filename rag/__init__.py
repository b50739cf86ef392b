"""rag: an offline, Chinese-aware retrieval-augmented QA library.

Data path: file -> documents (clean text + offsets) -> chunks -> embeddings + BM25 -> index/ ->
question -> hits (fused) -> answer with citations -> CLI / UI / eval.
"""

__version__ = "0.1.0"
