"""Course tooling for *From N-grams to GPT* (not teaching code: notebooks never import it)."""
