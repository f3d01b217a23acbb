"""The bounded argon2 pool: at most workers + queue checks at a time, the rest refused at once."""

from __future__ import annotations

import asyncio

import pytest

from dialgate.adapters import passwords


def test_checks_beyond_the_bound_are_refused_at_once() -> None:
    pool = passwords.HashPool(workers=1, queue=1)
    stored = passwords.hash_password("Secret123x")

    async def scenario() -> list[object]:
        first = asyncio.ensure_future(pool.verify(stored, "Secret123x"))
        second = asyncio.ensure_future(pool.verify(stored, "Wrong123x"))
        await asyncio.sleep(0)  # both submitted: one running, one waiting
        assert pool.in_flight == 2
        with pytest.raises(passwords.HashPoolBusy):
            await pool.verify(stored, "Third123x")
        return list(await asyncio.gather(first, second))

    try:
        assert asyncio.run(scenario()) == [True, False]
        assert pool.in_flight == 0  # slots come back when the work ends
        assert asyncio.run(pool.verify(stored, "Secret123x")) is True
    finally:
        pool.shutdown()
