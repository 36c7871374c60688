#!/usr/bin/env python3
"""
An independent BERT WordPiece tokenizer, written from the algorithm Google's BERT and Hugging Face `tokenizers`
document (BertNormalizer, BertPreTokenizer, WordPiece, TemplateProcessing), so the token ids in
test/fixtures/bert-ref.json do not come from the tokenizer under test (transformers.js, which src/io/tokenizer.ts
loads). Only the vocabulary and the declared settings are read from tokenizer.json; no tokenizer library is used.

  * BertNormalizer: clean_text drops NUL, U+FFFD and control characters and turns every whitespace character into
    a space; handle_chinese_chars surrounds each CJK ideograph with spaces; strip_accents (None follows lowercase)
    decomposes to NFD and drops combining marks; lowercase.
  * BertPreTokenizer: split on whitespace, and every punctuation character (ASCII symbols 33-47, 58-64, 91-96,
    123-126, or a Unicode P* category) becomes a word of its own.
  * WordPiece: greedy longest match first, continuations prefixed "##"; a word with an unmatched rest, or longer
    than max_input_chars_per_word characters, becomes the unknown token.
  * TemplateProcessing: the single / pair templates with their type ids.

CLI: python3 wordpiece_ref.py TOKENIZER_JSON INPUT.json OUTPUT.json
  INPUT.json: a list of texts, each a string or a [first, second] pair.
  OUTPUT.json: a list of {"input_ids": [...], "token_type_ids": [...]}.
"""

import json
import sys
import unicodedata


def is_whitespace(ch):
    return ch in (" ", "\t", "\n", "\r") or unicodedata.category(ch) == "Zs"


def is_control(ch):
    if ch in ("\t", "\n", "\r"):
        return False
    return unicodedata.category(ch) in ("Cc", "Cf")


def is_punctuation(ch):
    cp = ord(ch)
    if 33 <= cp <= 47 or 58 <= cp <= 64 or 91 <= cp <= 96 or 123 <= cp <= 126:
        return True
    return unicodedata.category(ch).startswith("P")


def is_cjk(cp):
    return (
        0x4E00 <= cp <= 0x9FFF
        or 0x3400 <= cp <= 0x4DBF
        or 0x20000 <= cp <= 0x2A6DF
        or 0x2A700 <= cp <= 0x2B73F
        or 0x2B740 <= cp <= 0x2B81F
        or 0x2B820 <= cp <= 0x2CEAF
        or 0xF900 <= cp <= 0xFAFF
        or 0x2F800 <= cp <= 0x2FA1F
    )


def normalize(text, n):
    out = []
    for ch in text:
        if n.get("clean_text", True):
            if ord(ch) == 0 or ord(ch) == 0xFFFD or is_control(ch):
                continue
            if is_whitespace(ch):
                ch = " "
        if n.get("handle_chinese_chars", True) and is_cjk(ord(ch)):
            out.append(" " + ch + " ")
        else:
            out.append(ch)
    text = "".join(out)
    strip = n.get("strip_accents")
    if strip is None:
        strip = n.get("lowercase", True)
    if strip:
        text = "".join(c for c in unicodedata.normalize("NFD", text) if unicodedata.category(c) != "Mn")
    if n.get("lowercase", True):
        text = text.lower()
    return text


def pre_tokenize(text):
    words, current = [], []
    for ch in text:
        if is_whitespace(ch):
            if current:
                words.append("".join(current))
                current = []
        elif is_punctuation(ch):
            if current:
                words.append("".join(current))
                current = []
            words.append(ch)
        else:
            current.append(ch)
    if current:
        words.append("".join(current))
    return words


def wordpiece(word, model):
    vocab, unk = model["vocab"], model["unk_token"]
    prefix = model.get("continuing_subword_prefix", "##")
    if len(word) > model.get("max_input_chars_per_word", 100):
        return [vocab[unk]]
    ids, start = [], 0
    while start < len(word):
        end, found = len(word), None
        while start < end:
            piece = word[start:end] if start == 0 else prefix + word[start:end]
            if piece in vocab:
                found = vocab[piece]
                break
            end -= 1
        if found is None:
            return [vocab[unk]]
        ids.append(found)
        start = end
    return ids


def encode(text, tok):
    n, pre, model = tok["normalizer"], tok["pre_tokenizer"], tok["model"]
    assert n["type"] == "BertNormalizer" and pre["type"] == "BertPreTokenizer" and model["type"] == "WordPiece", "not a BERT tokenizer.json"
    return [i for w in pre_tokenize(normalize(text, n)) for i in wordpiece(w, model)]


def apply_template(sequences, tok):
    post = tok["post_processor"]
    assert post["type"] == "TemplateProcessing"
    template = post["single"] if len(sequences) == 1 else post["pair"]
    ids, types = [], []
    for part in template:
        if "SpecialToken" in part:
            s = part["SpecialToken"]
            for i in post["special_tokens"][s["id"]]["ids"]:
                ids.append(i)
                types.append(s["type_id"])
        else:
            s = part["Sequence"]
            seq = sequences[0] if s["id"] == "A" else sequences[1]
            ids += seq
            types += [s["type_id"]] * len(seq)
    return {"input_ids": ids, "token_type_ids": types}


def main():
    tok_path, in_path, out_path = sys.argv[1:4]
    with open(tok_path) as f:
        tok = json.load(f)
    with open(in_path) as f:
        texts = json.load(f)
    out = []
    for t in texts:
        parts = t if isinstance(t, list) else [t]
        out.append(apply_template([encode(p, tok) for p in parts], tok))
    with open(out_path, "w") as f:
        json.dump(out, f)


if __name__ == "__main__":
    main()
