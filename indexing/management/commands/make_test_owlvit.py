"""Write a small randomly initialised OWL-ViT or OWLv2 that loads like ``google/owlvit-base-patch32``.

For machines that cannot reach the model hub (tests, benchmarks, offline demos): the real
OwlViTForObjectDetection / Owlv2ForObjectDetection classes and processors, tiny towers
and the byte-level CLIP tokenizer of make_test_clip (any word tokenizes). Its boxes and
scores carry no meaning; with ``--size base`` it has the real architecture, so it costs
what the real model costs (the cost is the architecture's, not the weights').
"""

from __future__ import annotations

from pathlib import Path

import torch

from indexing.management.commands._tiny_model import TinyModelCommand
from indexing.management.commands.make_test_clip import OPENAI_CLIP_MEAN, OPENAI_CLIP_STD, byte_level_tokenizer

CONTEXT_LENGTH = 16  # OWL-ViT's text queries are short: 16 tokens, as in the hub models
TINY_TOWER = {"hidden_size": 32, "intermediate_size": 64, "num_hidden_layers": 2, "num_attention_heads": 2}
# The hub base models' towers (OWL-ViT B/32 and OWLv2 B/16 share them; their image and patch sides differ).
BASE_TEXT = {"hidden_size": 512, "intermediate_size": 2048, "num_hidden_layers": 12, "num_attention_heads": 8}
BASE_VISION = {"hidden_size": 768, "intermediate_size": 3072, "num_hidden_layers": 12, "num_attention_heads": 12}
# (text tower, vision tower, image side, patch side, projection): "base" is that of the hub models.
SIZES = {
    ("owlvit", "tiny"): (TINY_TOWER, TINY_TOWER, 64, 16, 32),
    ("owlv2", "tiny"): (TINY_TOWER, TINY_TOWER, 64, 16, 32),
    # google/owlvit-base-patch32: ViT-B/32 at 768 px (transformers' OwlViTConfig defaults)
    ("owlvit", "base"): (
        BASE_TEXT,
        BASE_VISION,
        768,
        32,
        512,
    ),
    # google/owlv2-base-patch16-ensemble: ViT-B/16 at 960 px
    ("owlv2", "base"): (
        BASE_TEXT,
        BASE_VISION,
        960,
        16,
        512,
    ),
}


class Command(TinyModelCommand):
    help = "Write a small random-weight OWL-ViT or OWLv2 detector (model, tokenizer, processor) to DIR."
    what, setting = "{kind}", "DETECTOR_WEIGHTS"
    size_help = (
        "tiny: under 1 MB, for tests; base: the hub base model's architecture (random weights), "
        "for benchmarks that must cost what the real model costs."
    )

    def add_model_arguments(self, parser) -> None:
        parser.add_argument("--kind", choices=["owlvit", "owlv2"], default="owlvit", help="OWL-ViT or OWLv2.")

    def write(self, directory: Path, *, seed: int, size: str, **options) -> None:
        write_test_owlvit(directory, kind=options["kind"], seed=seed, size=size)


def write_test_owlvit(directory: Path, *, kind: str = "owlvit", seed: int = 0, size: str = "tiny") -> Path:
    from transformers import (
        Owlv2Config,
        Owlv2ForObjectDetection,
        Owlv2ImageProcessor,
        Owlv2Processor,
        OwlViTConfig,
        OwlViTForObjectDetection,
        OwlViTImageProcessor,
        OwlViTProcessor,
    )

    directory.mkdir(parents=True, exist_ok=True)
    tokenizer = byte_level_tokenizer(CONTEXT_LENGTH)
    text_tower, vision_tower, side, patch, projection = SIZES[(kind, size)]
    config_class, model_class = (
        (Owlv2Config, Owlv2ForObjectDetection) if kind == "owlv2" else (OwlViTConfig, OwlViTForObjectDetection)
    )
    config = config_class(
        text_config={
            **text_tower,
            "vocab_size": len(tokenizer),
            "max_position_embeddings": CONTEXT_LENGTH,
            "bos_token_id": tokenizer.bos_token_id,
            "eos_token_id": tokenizer.eos_token_id,
            "pad_token_id": tokenizer.pad_token_id,
        },
        vision_config={**vision_tower, "image_size": side, "patch_size": patch},
        projection_dim=projection,
    )
    torch.manual_seed(seed)
    model_class(config).save_pretrained(directory)
    square = {"height": side, "width": side}
    if kind == "owlv2":
        processor = Owlv2Processor(
            image_processor=Owlv2ImageProcessor(size=square, image_mean=OPENAI_CLIP_MEAN, image_std=OPENAI_CLIP_STD),
            tokenizer=tokenizer,
        )
    else:
        image_processor = OwlViTImageProcessor(
            size=square, crop_size=square, image_mean=OPENAI_CLIP_MEAN, image_std=OPENAI_CLIP_STD
        )
        processor = OwlViTProcessor(image_processor=image_processor, tokenizer=tokenizer)
    processor.save_pretrained(directory)
    return directory
