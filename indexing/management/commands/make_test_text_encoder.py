"""Write a small random multilingual text encoder that loads like ``clip-ViT-B-32-multilingual-v1``.

For machines that cannot reach the model hub (tests, CI): the real sentence-transformers
layout (a BERT, mean pooling, a Dense layer to the product's 512 dimensions), a WordPiece
vocabulary written here with every Hangul syllable and the Latin letters in it, random
weights. Beside it ``aligned_to.json`` names the image model it stands in for (by default
the CLIP_MODEL's version, as the test CLIP is). Its vectors carry no meaning.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import torch
from django.conf import settings

from indexing.management.commands._tiny_model import TinyModelCommand
from indexing.vision.text_encoder import ALIGNMENT_FILE

SPECIAL = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
MAX_TOKENS = 128
# Tower shapes: "base" is that of clip-ViT-B-32-multilingual-v1's DistilBERT student (6 layers of 768).
SIZES = {
    "tiny": {"hidden_size": 32, "num_hidden_layers": 2, "num_attention_heads": 2, "intermediate_size": 64},
    "base": {"hidden_size": 768, "num_hidden_layers": 6, "num_attention_heads": 12, "intermediate_size": 3072},
}


class Command(TinyModelCommand):
    help = "Write a small random-weight multilingual text encoder (sentence-transformers layout) to DIR."
    what, setting = "text encoder", "TEXT_ENCODER"
    sizes = tuple(sorted(SIZES))
    size_help = (
        "tiny: under 1 MB of weights, for tests; base: the real student's layers (random weights), "
        "for benchmarks that must cost what the real model costs."
    )

    def add_model_arguments(self, parser) -> None:
        parser.add_argument(
            "--aligned-to",
            required=True,
            help="The image model it stands in for: an embedder version (name@hash) or a CLIP id.",
        )

    def write(self, directory: Path, *, seed: int, size: str, **options) -> None:
        write_test_text_encoder(directory, aligned_to=options["aligned_to"], seed=seed, size=size)


def vocabulary() -> list[str]:
    """Whole-word and ``##`` pieces of every Hangul syllable, Latin letter and digit: any such word tokenizes."""
    singles = [chr(c) for c in range(0xAC00, 0xD7A4)] + list("abcdefghijklmnopqrstuvwxyz0123456789")
    return SPECIAL + singles + ["##" + piece for piece in singles] + list(".,-'")


def write_test_text_encoder(directory: Path, *, aligned_to: str, seed: int = 0, size: str = "tiny") -> Path:
    # Imported here: sentence-transformers (and transformers under it) take seconds to import.
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.models import Dense, Pooling, Transformer
    from transformers import BertConfig, BertModel, BertTokenizerFast

    directory.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(seed)
    with tempfile.TemporaryDirectory() as scratch:
        vocab_file = Path(scratch) / "vocab.txt"
        vocab_file.write_text("\n".join(vocabulary()) + "\n", encoding="utf-8")
        # strip_accents off: lower-casing would otherwise split Hangul syllables into jamo, none in the vocabulary.
        tokenizer = BertTokenizerFast(
            vocab_file=str(vocab_file), do_lower_case=True, strip_accents=False, model_max_length=MAX_TOKENS
        )
        tower = SIZES[size]
        config = BertConfig(vocab_size=len(tokenizer), max_position_embeddings=MAX_TOKENS, **tower)
        bert_dir = Path(scratch) / "bert"
        BertModel(config).save_pretrained(bert_dir)
        tokenizer.save_pretrained(bert_dir)
        transformer = Transformer(str(bert_dir), max_seq_length=MAX_TOKENS)
        pooling = Pooling(tower["hidden_size"], pooling_mode="mean")
        # As the real student: mean-pooled BERT, then a bias-free linear map into the CLIP's space.
        dense = Dense(tower["hidden_size"], settings.EMBEDDING_DIM, bias=False, activation_function=torch.nn.Identity())
        SentenceTransformer(modules=[transformer, pooling, dense], device="cpu").save(str(directory))
    # The scratch folder's path is no part of the model: same seed, same files (and so the same version).
    config_file = directory / "config.json"
    saved = json.loads(config_file.read_text(encoding="utf-8"))
    saved.pop("_name_or_path", None)
    config_file.write_text(json.dumps(saved, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    (directory / ALIGNMENT_FILE).write_text(json.dumps({"image_model": aligned_to}) + "\n", encoding="utf-8")
    return directory
