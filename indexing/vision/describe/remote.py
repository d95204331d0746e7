"""Any OpenAI-compatible chat endpoint (Ollama, vLLM, OpenAI): POST {url}/chat/completions.

Each crop is one request (the chat API takes one conversation per call), sent as a
base64 JPEG in an ``image_url`` part beside the prompt. Every failure (refused, timed
out, an HTTP error, an answer without text) is a DescriberError naming the endpoint and
the reason, so a description job fails with it and nothing else does.
"""

from __future__ import annotations

import base64
import io
import json
import urllib.error
import urllib.request
from collections.abc import Sequence

from PIL import Image

from indexing.vision.describe.errors import DescriberError


class OpenAICompatible:
    default_prompt = (
        "Describe this {label} in one short sentence for a search index: its type, colours, "
        "what it carries or wears, and anything distinctive. No preamble."
    )
    photo_prompt = (
        "Describe this photo in one short sentence for a search index: the place, what is happening, "
        "and the main objects with their colours. No preamble."
    )

    def __init__(self, *, url: str, model: str, api_key: str = "", timeout: float = 30.0, max_tokens: int = 60) -> None:
        self.endpoint = url.rstrip("/") + "/chat/completions"
        self.model, self.api_key, self.timeout, self.max_tokens = model, api_key, timeout, max_tokens
        self.version = f"openai:{model}@{url.rstrip('/')}"

    def describe(self, images: Sequence[Image.Image], prompts: Sequence[str]) -> list[str]:
        return [self.ask(prompt, image) for image, prompt in zip(images, prompts, strict=True)]

    def ask(self, prompt: str, image: Image.Image | None = None) -> str:
        """One answer to ``prompt`` (about ``image`` when given)."""
        content: list[dict] = [{"type": "text", "text": prompt}]
        if image is not None:
            content.append({"type": "image_url", "image_url": {"url": data_url(image)}})
        body = {"model": self.model, "max_tokens": self.max_tokens, "messages": [{"role": "user", "content": content}]}
        headers = {"Content-Type": "application/json"}
        if self.api_key:
            headers["Authorization"] = f"Bearer {self.api_key}"
        request = urllib.request.Request(self.endpoint, json.dumps(body).encode(), headers, method="POST")
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                answer = json.loads(response.read())
        except urllib.error.HTTPError as exc:
            detail = exc.read()[:300].decode(errors="replace")
            raise DescriberError(
                f"The description endpoint {self.endpoint} answered HTTP {exc.code}: {detail}"
            ) from exc
        except TimeoutError as exc:
            raise DescriberError(
                f"The description endpoint {self.endpoint} did not answer in {self.timeout} s."
            ) from exc
        except (urllib.error.URLError, ConnectionError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            if isinstance(reason, TimeoutError):  # urlopen wraps a connect timeout in URLError
                raise DescriberError(
                    f"The description endpoint {self.endpoint} did not answer in {self.timeout} s."
                ) from exc
            raise DescriberError(f"The description endpoint {self.endpoint} could not be reached: {reason}") from exc
        except ValueError as exc:
            raise DescriberError(f"The description endpoint {self.endpoint} answered with no JSON: {exc}") from exc
        try:
            text = answer["choices"][0]["message"]["content"]
        except (KeyError, IndexError, TypeError) as exc:
            raise DescriberError(
                f"The description endpoint {self.endpoint} answered without a message: {answer!r:.300}"
            ) from exc
        if not isinstance(text, str) or not text.strip():
            raise DescriberError(f"The description endpoint {self.endpoint} answered with an empty description.")
        return text.strip()


def data_url(image: Image.Image) -> str:
    buffer = io.BytesIO()
    image.convert("RGB").save(buffer, format="JPEG", quality=90)
    return "data:image/jpeg;base64," + base64.b64encode(buffer.getvalue()).decode()
