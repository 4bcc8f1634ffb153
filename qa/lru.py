"""A thread-safe least-recently-used map that loads what it lacks in batches."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Container, Hashable, Iterable, Mapping
from typing import Generic, TypeVar

__all__ = ["LruCache"]

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class LruCache(Generic[K, V]):
    """Values by key; beyond ``capacity`` the least recently used are dropped (0: keep none)."""

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self._entries: OrderedDict[K, V] = OrderedDict()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._entries)

    def __contains__(self, key: object) -> bool:
        return key in self._entries

    def get_many(self, keys: Iterable[K], load: Callable[[list[K]], Mapping[K, V]]) -> dict[K, V]:
        """The value of each key: held ones from memory, the others from one ``load`` call
        (keys it leaves out are left out), kept for next time."""
        keys = list(keys)
        out: dict[K, V] = {}
        with self._lock:
            for key in keys:
                if (hit := self._entries.get(key)) is not None:
                    self._entries.move_to_end(key)
                    out[key] = hit
        missing = [key for key in keys if key not in out]
        if not missing:
            return out
        loaded = load(missing)
        out.update(loaded)
        if self.capacity > 0:
            with self._lock:
                self._entries.update(loaded)
                while len(self._entries) > self.capacity:
                    self._entries.popitem(last=False)
        return out

    def keep_only(self, keys: Container[K]) -> int:
        """Drop every entry whose key is not in ``keys``; how many were dropped."""
        with self._lock:
            dropped = [key for key in self._entries if key not in keys]
            for key in dropped:
                del self._entries[key]
        return len(dropped)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
