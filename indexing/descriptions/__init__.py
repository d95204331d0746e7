"""Descriptions of crops by a vision-language model: prompts, runs, the pipeline's hook, reads."""
