"""What a gateway process holds while it runs, under one typed app key."""

from __future__ import annotations

from dataclasses import dataclass

import asyncpg
import redis.asyncio as aioredis
from aiohttp import web

from checkin.cards import CardVerifier
from checkin.config import Config
from checkin.gateway.batcher import ScriptBatcher
from checkin.gateway.cluster_batcher import ClusterScriptBatcher
from checkin.keys import Keys


@dataclass
class GatewayState:
    config: Config
    keys: Keys
    pool: asyncpg.Pool
    redis: aioredis.Redis
    batcher: ScriptBatcher | ClusterScriptBatcher
    cards: CardVerifier


state_key = web.AppKey("state", GatewayState)
