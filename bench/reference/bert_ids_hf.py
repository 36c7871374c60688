"""Token ids from Hugging Face's own `tokenizers` (the Rust library behind transformers' fast tokenizers): a second
reference for the BERT/GTE WordPiece ids, independent of transformers.js (under test) and of wordpiece_ref.py.

    python3 bert_ids_hf.py TOKENIZER_JSON < texts.json > ids.json

texts.json: a JSON list of strings or [text, pair] lists; prints [{input_ids, token_type_ids}] and the version.
No network: `pip install --no-index tokenizers` from a local wheel is enough (it needs no other package here).
"""
import json
import sys

import tokenizers

tok = tokenizers.Tokenizer.from_file(sys.argv[1])
out = []
for t in json.load(sys.stdin):
    e = tok.encode(t[0], t[1]) if isinstance(t, list) else tok.encode(t)
    out.append({"input_ids": e.ids, "token_type_ids": e.type_ids})
json.dump({"tokenizers": tokenizers.__version__, "encodings": out}, sys.stdout)
