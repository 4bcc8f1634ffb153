"""The LRU map behind the article and prepared-article caches."""

from qa.lru import LruCache


def test_loads_only_what_it_lacks_and_drops_the_least_recently_used() -> None:
    loads: list[list[int]] = []

    def load(keys: list[int]) -> dict[int, str]:
        loads.append(keys)
        return {k: f"v{k}" for k in keys if k != 99}  # 99 does not exist

    cache: LruCache[int, str] = LruCache(2)
    assert cache.get_many([1, 2, 99], load) == {1: "v1", 2: "v2"}
    assert loads == [[1, 2, 99]] and 99 not in cache
    assert cache.get_many([1], load) == {1: "v1"} and loads == [[1, 2, 99]]  # from memory
    assert cache.get_many([3], load) == {3: "v3"}  # 2 was used least recently: dropped
    assert 1 in cache and 3 in cache and 2 not in cache and len(cache) == 2
    cache.clear()
    assert len(cache) == 0


def test_capacity_zero_keeps_nothing() -> None:
    cache: LruCache[str, int] = LruCache(0)
    assert cache.get_many(["a"], lambda keys: dict.fromkeys(keys, 1)) == {"a": 1}
    assert len(cache) == 0
