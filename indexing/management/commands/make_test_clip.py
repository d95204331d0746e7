"""Write a small randomly initialised CLIP that loads like ``openai/clip-vit-base-patch32``.

For machines that cannot reach the model hub (tests, CI, demos): real CLIPModel
classes and a real CLIPProcessor, tiny towers, but the product's 512-d projection
so its embeddings fit the database. Its vectors carry no meaning.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import torch
from django.conf import settings
from transformers import CLIPConfig, CLIPImageProcessor, CLIPModel, CLIPProcessor, CLIPTokenizerFast
from transformers.models.clip.tokenization_clip import bytes_to_unicode

from indexing.management.commands._tiny_model import TinyModelCommand

# The OpenAI CLIP preprocessing constants (as in openai/clip-vit-base-patch32).
OPENAI_CLIP_MEAN = [0.48145466, 0.4578275, 0.40821073]
OPENAI_CLIP_STD = [0.26862954, 0.26130258, 0.27577711]
CONTEXT_LENGTH = 77
BOS, EOS = "<|startoftext|>", "<|endoftext|>"


class Command(TinyModelCommand):
    help = "Write a small random-weight CLIP (model, tokenizer, processor) to DIR for offline use."
    what, setting = "CLIP", "CLIP_MODEL"
    size_help = (
        "tiny: a few MB, for tests; base: the ViT-B/32 architecture (random weights), "
        "for benchmarks that must cost what the real model costs."
    )

    def write(self, directory: Path, *, seed: int, size: str, **options) -> None:
        write_test_clip(directory, seed=seed, size=size)


# Tower shapes: "base" is openai/clip-vit-base-patch32's (transformers' CLIPConfig defaults).
TOWERS = {
    "tiny": (
        {"hidden_size": 64, "intermediate_size": 128, "num_hidden_layers": 2, "num_attention_heads": 2},
        {"hidden_size": 64, "intermediate_size": 128, "num_hidden_layers": 2, "num_attention_heads": 2},
    ),
    "base": (
        {"hidden_size": 512, "intermediate_size": 2048, "num_hidden_layers": 12, "num_attention_heads": 8},
        {"hidden_size": 768, "intermediate_size": 3072, "num_hidden_layers": 12, "num_attention_heads": 12},
    ),
}


def write_test_clip(directory: Path, seed: int = 0, size: str = "tiny") -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    tokenizer = byte_level_tokenizer()
    text_tower, vision_tower = TOWERS[size]
    config = CLIPConfig(
        text_config={
            **text_tower,
            "vocab_size": len(tokenizer),
            "max_position_embeddings": CONTEXT_LENGTH,
            "bos_token_id": tokenizer.bos_token_id,
            "eos_token_id": tokenizer.eos_token_id,
            "pad_token_id": tokenizer.pad_token_id,
        },
        vision_config={**vision_tower, "image_size": 224, "patch_size": 32},
        projection_dim=settings.EMBEDDING_DIM,
    )
    torch.manual_seed(seed)
    CLIPModel(config).save_pretrained(directory)
    image_processor = CLIPImageProcessor(
        size={"shortest_edge": 224},
        crop_size={"height": 224, "width": 224},
        image_mean=OPENAI_CLIP_MEAN,
        image_std=OPENAI_CLIP_STD,
    )
    CLIPProcessor(image_processor=image_processor, tokenizer=tokenizer).save_pretrained(directory)
    return directory


def byte_level_tokenizer(context_length: int = CONTEXT_LENGTH) -> CLIPTokenizerFast:
    """A CLIP BPE tokenizer over bytes alone (no merges): any text tokenizes, one token a byte.

    Same layout as OpenAI's vocabulary: the 256 byte symbols, their end-of-word forms,
    then the special tokens (so end-of-text has the largest id, as CLIP assumes). The test
    OWL-ViT (make_test_owlvit) shares it, with OWL-ViT's shorter context.
    """
    symbols = list(bytes_to_unicode().values())
    tokens = symbols + [symbol + "</w>" for symbol in symbols] + [BOS, EOS]
    vocab = {token: index for index, token in enumerate(tokens)}
    with tempfile.TemporaryDirectory() as scratch:
        vocab_file, merges_file = Path(scratch) / "vocab.json", Path(scratch) / "merges.txt"
        vocab_file.write_text(json.dumps(vocab, ensure_ascii=False), encoding="utf-8")
        merges_file.write_text("#version: 0.2\n", encoding="utf-8")
        return CLIPTokenizerFast(
            vocab_file=str(vocab_file),
            merges_file=str(merges_file),
            bos_token=BOS,
            eos_token=EOS,
            unk_token=EOS,
            pad_token=EOS,
            model_max_length=context_length,
        )
