"""Encoders: the interface, the torch and ONNX Runtime backends, caches, and the query-time chain.

``base`` (interface and wrapper base) -> ``torch_backend`` / ``onnx_backend`` (compute vectors) -> ``cached``,
``disk_cache``, ``lru`` (reuse them) -> ``concurrency``, ``known_vectors`` (serve concurrent and known texts) ->
``factory`` (the one place that picks a backend and assembles the chain). Only this package imports
sentence_transformers, transformers, tokenizers and onnxruntime.
"""
