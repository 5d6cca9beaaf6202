"""The bundled all-MiniLM-L6-v2 model (int8), loaded from local files: paraphrases find each other."""

from __future__ import annotations

import hashlib
import math

import pytest

from remembrancer.embeddings import BUNDLED_DIM, FastEmbedder, bundled_model_dir
from remembrancer.related_words import related
from remembrancer.service import MemoryService

pytestmark = pytest.mark.slow

#: printed by tools/build_model.py
MODEL_SHA256 = "9e80251537633bab7d98c9a4f07070371d83f1d28e6994a1f5d93c53de3c5454"


def test_bundled_model_embeds_offline_into_unit_vectors(real_embedder: FastEmbedder) -> None:
    berlin, home, pizza = real_embedder.embed(["I live in Berlin", "My home city is Berlin", "I like pizza"])
    assert len(berlin) == BUNDLED_DIM
    assert math.isclose(math.fsum(v * v for v in berlin), 1.0, rel_tol=1e-4)
    close = math.fsum(a * b for a, b in zip(berlin, home, strict=True))
    far = math.fsum(a * b for a, b in zip(berlin, pizza, strict=True))
    assert close > 0.7 > 0.3 > far


def test_the_bundled_model_folder_is_complete_and_the_model_is_the_built_one() -> None:
    folder = bundled_model_dir()
    names = {path.name for path in folder.iterdir()}
    assert {"model.onnx", "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json"} <= names
    assert '"model_max_length": 256' in (folder / "tokenizer_config.json").read_text()
    digest = hashlib.sha256((folder / "model.onnx").read_bytes()).hexdigest()
    assert digest == MODEL_SHA256, "model.onnx is not the file tools/build_model.py makes"


def test_the_related_words_are_the_bundled_models_own(real_embedder: FastEmbedder) -> None:
    """The table (tools/build_related_words.py) holds what the bundled model says of single words."""
    for word in ["children", "instrument", "city"]:
        neighbours = related(word)
        cosines = [cosine for _, cosine in neighbours]
        assert 5 <= len(neighbours) <= 20 and cosines == sorted(cosines, reverse=True) and min(cosines) >= 0.5
        vectors = real_embedder.embed([word, *(other for other, _ in neighbours[:3])])
        for vector, (_, cosine) in zip(vectors[1:], neighbours[:3], strict=True):
            assert math.fsum(a * b for a, b in zip(vectors[0], vector, strict=True)) == pytest.approx(
                cosine, abs=0.01
            )


def test_recall_finds_a_paraphrase(real_service: MemoryService) -> None:
    berlin = real_service.remember("I live in Berlin")
    assert berlin.memory is not None
    real_service.remember("My favourite food is sushi")
    real_service.remember("The project deadline is in March")
    real_service.remember("I work as a nurse at the city hospital")
    hits = real_service.recall("Where do I live?").hits
    assert hits[0].id == berlin.memory.id
    assert hits[0].similarity is not None and hits[0].similarity > 0.4


def test_near_duplicate_with_the_real_model(real_service: MemoryService) -> None:
    first = real_service.remember("The user's favourite programming language is Python.")
    assert first.memory is not None
    again = real_service.remember("The user's favourite programming language is Python!")
    other = real_service.remember("The user's favourite programming language is Rust.")
    assert again.status == "duplicate" and again.matched_by == "similarity"
    assert again.duplicate_of == first.memory.id
    assert other.status == "added"


def test_fallback_judge_with_the_real_model_keeps_every_fact(real_service: MemoryService) -> None:
    """No LLM configured: a changed fact is stored beside the old one, never lost or merged away."""
    berlin = real_service.remember("I live in Berlin")
    assert berlin.memory is not None
    munich = real_service.remember("I moved to Munich last year")
    again = real_service.remember("I live in Berlin.")
    assert (berlin.judge, munich.judge) == ("fallback", "fallback")
    assert munich.status == "added" and not munich.needs_review
    assert again.status == "duplicate" and again.duplicate_of == berlin.memory.id
    contents = {hit.content for hit in real_service.recall("where does the user live", limit=5).hits}
    assert {"I live in Berlin", "I moved to Munich last year"} <= contents


def test_a_text_gets_the_same_vector_alone_or_in_a_long_list_embedded_side_by_side(
    real_embedder: FastEmbedder,
) -> None:
    texts = [
        f"{'a much longer note about ' * (i % 5)}fact number {i} about {word}"
        for i, word in enumerate(["Berlin", "sushi", "March", "nursing", "Python", "Rust", "dark mode"] * 6)
    ]
    pooled = FastEmbedder(workers=2)
    together = pooled.embed(texts)
    one_by_one = [real_embedder.embed([text])[0] for text in texts]
    for a, b in zip(together, one_by_one, strict=True):
        assert a == b
    assert pooled.sessions == 2
