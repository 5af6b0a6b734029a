"""What flows between layers at spec time: a shape plus receptive-field bookkeeping."""
from __future__ import annotations

from dataclasses import dataclass, replace


@dataclass(frozen=True)
class Geometry:
    """Per-sample shape of a layer's output and its receptive field on the input image.

    shape: (C, H, W) for feature maps, (T, D) for token sequences, (F,) for vectors, and (T,) for
           the token ids of a text input (`vocab` > 0: ids in 0..vocab-1, until `embed`).
    rf:    receptive field side, in input pixels.
    jump:  distance in input pixels between neighbouring output positions.
    extent: spatial side of the map, in positions (kept for tokens, which lost H and W).
    """

    shape: tuple[int, ...]
    rf: int = 1
    jump: int = 1
    extent: int = 1
    vocab: int = 0

    @property
    def kind(self) -> str:
        return "ids" if self.vocab else {3: "image", 2: "tokens", 1: "vector"}[len(self.shape)]

    def sliding(self, shape: tuple[int, ...], k: int, stride: int, dilation: int = 1) -> "Geometry":
        """After a sliding window of size k: the standard RF recurrence."""
        span = dilation * (k - 1) + 1
        return replace(
            self,
            shape=shape,
            rf=self.rf + (span - 1) * self.jump,
            jump=self.jump * stride,
            extent=max(shape[1:]) if len(shape) == 3 else self.extent,
        )

    def global_(self, shape: tuple[int, ...]) -> "Geometry":
        """After an op that mixes every position (GAP, flatten, attention)."""
        return replace(self, shape=shape, rf=self.rf + (self.extent - 1) * self.jump, extent=1)

    def reshaped(self, shape: tuple[int, ...]) -> "Geometry":
        return replace(self, shape=shape)
