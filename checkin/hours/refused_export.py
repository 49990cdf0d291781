"""The refused-scan report as the office's spreadsheet reads it (pure): a row per gate, hour and reason.

The cards a gate refuses for what the card is, not for when or how it was shown: forged or altered
(invalid_card, unknown_key), revoked, or not on the event's roster.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from checkin.vocabulary import Reason

CARD_REFUSALS: tuple[Reason, ...] = (Reason.INVALID_CARD, Reason.UNKNOWN_KEY, Reason.REVOKED, Reason.NOT_ON_ROSTER)
REASON_WORDS: Mapping[str, str] = {
    Reason.INVALID_CARD: "卡片無效或遭竄改", Reason.UNKNOWN_KEY: "卡片簽章金鑰不明",
    Reason.REVOKED: "已停用的卡", Reason.NOT_ON_ROSTER: "不在本活動名冊",
}
REFUSED_HEADER = ("時段", "閘口代碼", "閘口", "原因代碼", "原因", "次數")


@dataclass(frozen=True)
class RefusedCount:
    hour: str  # the hour's start in the event's time zone, "2024-02-24T18:00"
    gate_id: str
    gate_name: str
    reason: str
    count: int


def refused_rows(counts: Iterable[RefusedCount]) -> list[Sequence[str]]:
    return [(c.hour.replace("T", " "), c.gate_id, c.gate_name, c.reason, REASON_WORDS.get(c.reason, c.reason),
             str(c.count)) for c in counts]
