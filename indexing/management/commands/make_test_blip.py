"""Write a small randomly initialised BLIP captioner that loads like ``Salesforce/blip-image-captioning-base``.

For machines that cannot reach the model hub (tests, benchmarks, offline demos): the real
BlipForConditionalGeneration and BlipProcessor classes with tiny towers and a word-level
vocabulary of a few dozen words. Its captions are random words; they carry no meaning.

BLIP's ``generate()`` starts every caption with ``text_config.bos_token_id`` and stops at
``sep_token_id``, padding with ``pad_token_id``; transformers' defaults (30522, 102, 0) are
ids of the 30k-word BERT vocabulary, so a tiny vocabulary must carry its own, in range.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import torch
from transformers import BertTokenizerFast, BlipConfig, BlipForConditionalGeneration, BlipImageProcessor, BlipProcessor

from indexing.management.commands._tiny_model import TinyModelCommand

SPECIAL = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "[DEC]"]
# A word-level vocabulary: every caption the random weights make is a string of these.
WORDS = [
    *("a", "an", "the", "of", "with", "on", "in", "and", "photo", "picture"),
    *("person", "man", "woman", "car", "truck", "bus", "bicycle", "dog", "cat"),
    *("red", "blue", "green", "black", "white", "grey", "small", "large", "old", "new"),
    *("street", "road", "parked", "walking", "standing", "sitting", "wearing", "shirt", "coat", "hat"),
]
# Tower shapes and image side: "base" is Salesforce/blip-image-captioning-base's (ViT-B/16 at 384 px, BERT-base).
SIZES = {
    "tiny": ({"hidden_size": 32, "intermediate_size": 64, "num_hidden_layers": 2, "num_attention_heads": 2}, 64),
    "base": ({"hidden_size": 768, "intermediate_size": 3072, "num_hidden_layers": 12, "num_attention_heads": 12}, 384),
}


class Command(TinyModelCommand):
    help = "Write a small random-weight BLIP captioner (model, tokenizer, processor) to DIR for offline use."
    what, setting = "BLIP", "DESCRIPTIONS_MODEL"
    size_help = (
        "tiny: a few hundred KB, for tests; base: blip-image-captioning-base's towers (random weights), "
        "for benchmarks that must cost what the default model costs."
    )

    def write(self, directory: Path, *, seed: int, size: str, **options) -> None:
        write_test_blip(directory, seed=seed, size=size)


def write_test_blip(directory: Path, seed: int = 0, size: str = "tiny") -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as scratch:
        vocab = Path(scratch) / "vocab.txt"
        vocab.write_text("\n".join(SPECIAL + WORDS) + "\n")
        tokenizer = BertTokenizerFast(vocab_file=str(vocab), do_lower_case=True)
    # BLIP's own tokenizer adds [DEC] as its bos token: the same here, inside the vocabulary.
    tokenizer.add_special_tokens({"bos_token": "[DEC]"})
    tower, side = SIZES[size]
    config = BlipConfig(
        text_config={
            **tower,
            "vocab_size": len(tokenizer),
            "max_position_embeddings": 64,
            "encoder_hidden_size": tower["hidden_size"],
            "bos_token_id": tokenizer.convert_tokens_to_ids("[DEC]"),
            "sep_token_id": tokenizer.sep_token_id,
            "eos_token_id": tokenizer.sep_token_id,
            "pad_token_id": tokenizer.pad_token_id,
        },
        vision_config={**tower, "image_size": side, "patch_size": 16},
        projection_dim=tower["hidden_size"],
    )
    torch.manual_seed(seed)
    BlipForConditionalGeneration(config).save_pretrained(directory)
    image_processor = BlipImageProcessor(size={"height": side, "width": side})
    BlipProcessor(image_processor=image_processor, tokenizer=tokenizer).save_pretrained(directory)
    return directory
