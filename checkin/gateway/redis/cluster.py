"""The scan batcher for a Redis Cluster: calls grouped by the node that owns their slot.

redis-py's cluster pipeline refuses EVALSHA, so each master gets its own plain pipeline. All keys
of a scan share the event's hash tag, so one call never spans slots. After a resharding a node
answers MOVED: the slot map is refreshed and those calls are sent again.
"""

from __future__ import annotations

import asyncio
from typing import Any, cast

import redis.asyncio as aioredis
from redis.asyncio.cluster import ClusterNode, RedisCluster
from redis.exceptions import NoScriptError, ResponseError

from checkin.gateway.redis.batcher import Batcher, Call


class ClusterScriptBatcher(Batcher):
    def __init__(self, cluster: RedisCluster, script: str, max_batch: int = 512) -> None:
        super().__init__(script, max_batch)
        self.cluster = cluster
        self._nodes: dict[str, aioredis.Redis] = {}

    def _client_for(self, key: str) -> aioredis.Redis:
        node = cast(ClusterNode, self.cluster.get_node_from_key(key))  # None only when asked for a replica
        client = self._nodes.get(node.name)
        if client is None:
            # the port of a node from the slot map is an int (ClusterNode also takes one as str)
            client = aioredis.Redis(host=node.host, port=cast(int, node.port), max_connections=16)
            self._nodes[node.name] = client
        return client

    async def _send(self, batch: list[Call], attempts: int = 3) -> list[Any]:
        """Each node's calls in one pipeline; MOVED/ASK and NOSCRIPT answers sent again (attempts in all)."""
        groups: dict[int, tuple[aioredis.Redis, list[int]]] = {}
        for i, (keys, _, _) in enumerate(batch):
            client = self._client_for(keys[0])
            groups.setdefault(id(client), (client, []))[1].append(i)
        results: list[Any] = [None] * len(batch)

        async def one_node(client: aioredis.Redis, indexes: list[int]) -> None:
            self.round_trips += 1
            async with client.pipeline(transaction=False) as pipe:
                for i in indexes:
                    keys, args, _ = batch[i]
                    pipe.evalsha(self.sha, len(keys), *keys, *args)
                answers = await pipe.execute(raise_on_error=False)
            if any(isinstance(a, NoScriptError) for a in answers):
                await client.script_load(self.script)
            for i, answer in zip(indexes, answers, strict=True):
                results[i] = answer

        await asyncio.gather(*(one_node(client, idx) for client, idx in groups.values()))
        retry = [i for i, r in enumerate(results) if isinstance(r, NoScriptError | ResponseError)
                 and (isinstance(r, NoScriptError) or str(r).startswith(("MOVED", "ASK")))]
        if retry and attempts > 1:
            if any(not isinstance(results[i], NoScriptError) for i in retry):
                await self.cluster.nodes_manager.initialize()  # slots moved: learn the new map
            again = await self._send([batch[i] for i in retry], attempts - 1)
            for i, result in zip(retry, again, strict=True):
                results[i] = result
        return results

    async def close(self) -> None:
        for client in self._nodes.values():
            await client.aclose()
