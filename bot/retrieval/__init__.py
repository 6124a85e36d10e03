"""Finding a school's candidate clauses for a question: text (tokenise, stem), BM25 (lexical.py),
sentence embeddings (ONNX), the vector cache, semantic similarity and their fusion.
May import `bot.knowledge` (the clauses searched) only."""
