"""Encoders: the interface, the sentence-transformers and ONNX Runtime backends, caches and the query-time chain."""
