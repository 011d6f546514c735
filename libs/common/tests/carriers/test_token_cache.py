from devicebulk_common.carriers import CachedToken, InProcessTokenCache

from .helpers import FakeClock


async def test_get_forgets_expired_tokens():
    clock = FakeClock(100.0)
    cache = InProcessTokenCache(clock=clock)
    await cache.set("k", "t", expires_at=110.0)
    assert await cache.get("k") == CachedToken("t", 110.0)
    clock.now = 110.0
    assert await cache.get("k") is None


async def test_invalidate_and_touch_leave_a_newer_token_alone():
    cache = InProcessTokenCache(clock=FakeClock(0.0))
    await cache.set("k", "fresh", expires_at=50.0)
    await cache.invalidate("k", "stale")
    await cache.touch("k", "stale", expires_at=500.0)
    assert await cache.get("k") == CachedToken("fresh", 50.0)
    await cache.touch("k", "fresh", expires_at=90.0)
    assert await cache.get("k") == CachedToken("fresh", 90.0)
    await cache.invalidate("k", "fresh")
    assert await cache.get("k") is None
