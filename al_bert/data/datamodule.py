"""The LightningDataModule: tokenize each split once (cached on disk), dynamic padding, views.

Views: the labelled set L (training, optional positive oversampling), the pool U and any other rows of a
split (inference, length-sorted batches: sequences of similar length share a batch so padding is minimal),
dev and test.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

import lightning as L
import numpy as np
import torch
from filelock import FileLock
from torch.utils.data import DataLoader, Dataset
from transformers import PreTrainedTokenizerBase

from al_bert.data.task import Task


@dataclass
class EncodedSplit:
    """Token ids of one split, unpadded: ``flat[offsets[i]:offsets[i + 1]]`` is example ``i``."""

    flat: np.ndarray
    offsets: np.ndarray
    labels: np.ndarray

    @property
    def lengths(self) -> np.ndarray:
        return np.diff(self.offsets)

    def __len__(self) -> int:
        return int(self.labels.size)

    def ids(self, row: int) -> np.ndarray:
        return self.flat[self.offsets[row] : self.offsets[row + 1]]


def _digest(texts: list[str], *parts: object) -> str:
    h = hashlib.sha256()
    for part in parts:
        h.update(repr(part).encode())
    for text in texts:
        h.update(text.encode("utf-8", "surrogatepass"))
        h.update(b"\x00")
    return h.hexdigest()[:24]


def encode_texts(
    texts: list[str],
    tokenizer: PreTrainedTokenizerBase,
    max_length: int,
    cache_dir: Path | None,
    tokenizer_name: str,
) -> EncodedSplit:
    """Tokenize ``texts`` (truncated to ``max_length``), reading/writing an on-disk cache when given."""
    path = None
    if cache_dir is not None:
        key = _digest(texts, tokenizer_name, max_length, tokenizer.vocab_size)
        path = cache_dir / f"{key}.npz"
        if path.exists():
            with np.load(path) as stored:
                return EncodedSplit(stored["flat"], stored["offsets"], np.zeros(0, dtype=np.int64))
    encoded = tokenizer(texts, truncation=True, max_length=max_length, add_special_tokens=True)
    sequences = encoded["input_ids"]
    offsets = np.zeros(len(sequences) + 1, dtype=np.int64)
    offsets[1:] = np.cumsum([len(s) for s in sequences])
    flat = np.fromiter((t for s in sequences for t in s), dtype=np.int32, count=int(offsets[-1]))
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        with FileLock(str(path) + ".lock"):
            for leftover in path.parent.glob(f"{path.stem}.*.tmp.npz"):
                leftover.unlink(missing_ok=True)  # a writer killed before its os.replace
            tmp = path.with_suffix(f".{os.getpid()}.tmp.npz")
            np.savez(tmp, flat=flat, offsets=offsets)
            os.replace(tmp, path)
    return EncodedSplit(flat, offsets, np.zeros(0, dtype=np.int64))


class _Rows(Dataset):
    def __init__(self, split: EncodedSplit, rows: np.ndarray, labels: np.ndarray | None) -> None:
        self.split, self.rows, self.labels = split, rows, labels

    def __len__(self) -> int:
        return int(self.rows.size)

    def __getitem__(self, i: int) -> dict[str, object]:
        item: dict[str, object] = {"input_ids": self.split.ids(int(self.rows[i]))}
        if self.labels is not None:
            item["labels"] = int(self.labels[i])
        return item


class PadCollator:
    """Dynamic padding to the longest sequence of the batch."""

    def __init__(self, pad_id: int) -> None:
        self.pad_id = pad_id

    def __call__(self, items: list[dict[str, object]]) -> dict[str, torch.Tensor]:
        seqs = [np.asarray(item["input_ids"]) for item in items]
        width = max(len(s) for s in seqs)
        ids = torch.full((len(seqs), width), self.pad_id, dtype=torch.long)
        mask = torch.zeros((len(seqs), width), dtype=torch.long)
        for i, s in enumerate(seqs):
            ids[i, : len(s)] = torch.from_numpy(s.astype(np.int64))
            mask[i, : len(s)] = 1
        batch = {"input_ids": ids, "attention_mask": mask}
        if "labels" in items[0]:
            batch["labels"] = torch.tensor([int(item["labels"]) for item in items])  # type: ignore[call-overload]
        return batch


def length_sorted_batches(lengths: np.ndarray, batch_size: int) -> list[np.ndarray]:
    """Row batches of similar length (longest first, so a memory error shows up at once)."""
    order = np.argsort(-lengths, kind="stable")
    return [order[i : i + batch_size] for i in range(0, order.size, batch_size)]


def oversample_positives(
    labels: np.ndarray, min_fraction: float, positive_label: int = 1
) -> np.ndarray:
    """Row indices where positives are repeated until they make up ≥ ``min_fraction`` (paper 2 §5.4).

    Whole copies first, then the first few positives once more; negatives are kept once. On a
    multi-class task the positives are the target class (``positive_label``).
    """
    rows = np.arange(labels.size)
    positives = rows[labels == positive_label]
    negatives = rows[labels != positive_label]
    if positives.size == 0 or positives.size >= min_fraction * labels.size:
        return rows
    needed = int(np.ceil(min_fraction * negatives.size / (1.0 - min_fraction)))
    copies, rest = divmod(needed, positives.size)
    return np.concatenate([negatives, np.tile(positives, copies), positives[:rest]])


class ALDataModule(L.LightningDataModule):
    """Token ids for every split of a task, and loaders over any subset of rows."""

    def __init__(
        self,
        task: Task,
        tokenizer: PreTrainedTokenizerBase,
        tokenizer_name: str,
        max_length: int,
        batch_size: int,
        eval_batch_size: int,
        cache_dir: str | Path | None = None,
        oversample_positives_to: float | None = None,
        seed: int = 0,
    ) -> None:
        super().__init__()
        self.task = task
        self.tokenizer = tokenizer
        self.tokenizer_name = tokenizer_name
        self.max_length = max_length
        self.batch_size = batch_size
        self.eval_batch_size = eval_batch_size
        self.cache_dir = Path(cache_dir) if cache_dir else None
        self.oversample_positives_to = oversample_positives_to
        self.seed = seed
        self.splits: dict[str, EncodedSplit] = {}
        self.collate = PadCollator(int(tokenizer.pad_token_id or 0))
        self._labelled_rows = np.zeros(0, dtype=np.int64)
        self._labelled_labels = np.zeros(0, dtype=np.int64)
        self._epoch_seed = seed

    def setup(self, stage: str | None = None) -> None:
        if self.splits:
            return
        for name, frame in self.task.splits().items():
            encoded = encode_texts(
                frame["text"].astype(str).tolist(),
                self.tokenizer,
                self.max_length,
                self.cache_dir,
                self.tokenizer_name,
            )
            encoded.labels = frame["label"].to_numpy(dtype=np.int64)
            self.splits[name] = encoded

    def set_labelled(self, rows: np.ndarray, labels: np.ndarray, seed: int) -> None:
        """Train on these train-split rows with these (revealed or weak) labels."""
        self._labelled_rows = np.asarray(rows, dtype=np.int64)
        self._labelled_labels = np.asarray(labels, dtype=np.int64)
        self._epoch_seed = seed

    def train_rows(self) -> tuple[np.ndarray, np.ndarray]:
        """The labelled rows and labels one epoch iterates over (after oversampling)."""
        rows, labels = self._labelled_rows, self._labelled_labels
        if self.oversample_positives_to:
            pick = oversample_positives(
                labels, self.oversample_positives_to, self.task.target_label
            )
            rows, labels = rows[pick], labels[pick]
        return rows, labels

    def train_dataloader(self) -> DataLoader:
        rows, labels = self.train_rows()
        generator = torch.Generator().manual_seed(self._epoch_seed)
        return DataLoader(
            _Rows(self.splits["train"], rows, labels),
            batch_size=self.batch_size,
            shuffle=True,
            generator=generator,
            collate_fn=self.collate,
        )

    def val_dataloader(self) -> DataLoader | list[DataLoader]:
        if "dev" not in self.splits:
            return []
        return self.inference_loader("dev", with_labels=True)

    def inference_batch_size(self, n_rows: int) -> int:
        """``eval_batch_size``, or less for a few hundred rows so that length sorting still buckets
        them (at least 8 batches of at least 16 rows): one batch of 200 labelled texts padded to the
        longest of them costs several times their length-sorted cost."""
        return max(1, min(self.eval_batch_size, max(16, -(-n_rows // 8))))

    def inference_loader(
        self, split: str, rows: np.ndarray | None = None, *, with_labels: bool = False
    ) -> DataLoader:
        """Length-sorted batches over ``rows`` of ``split`` (all rows by default)."""
        return self.inference_batches(split, rows, with_labels=with_labels)[1]

    def inference_batches(
        self, split: str, rows: np.ndarray | None = None, *, with_labels: bool = False
    ) -> tuple[np.ndarray, DataLoader]:
        """Length-sorted batches over ``rows`` of ``split``, and the order they follow.

        The order holds positions into ``rows``: the loader yields ``rows[order]`` batch by batch, so
        results can be put back in the order of ``rows``.
        """
        encoded = self.splits[split]
        rows = np.arange(len(encoded)) if rows is None else np.asarray(rows, dtype=np.int64)
        batch_size = self.inference_batch_size(rows.size)
        order = inference_order(encoded, rows, batch_size)
        labels = encoded.labels[rows[order]] if with_labels else None
        loader = DataLoader(
            _Rows(encoded, rows[order], labels),
            batch_size=batch_size,
            shuffle=False,
            collate_fn=self.collate,
        )
        return order, loader


def inference_order(encoded: EncodedSplit, rows: np.ndarray, batch_size: int) -> np.ndarray:
    """Permutation of ``rows`` (positions into it) that groups similar lengths, longest first."""
    batches = length_sorted_batches(encoded.lengths[rows], batch_size)
    return np.concatenate(batches) if batches else np.zeros(0, dtype=np.int64)
