"""What the console's cards PDF costs the gateway: the PDF of N cards drawn as POST .../cards/print draws it
(a thread, one QR worker, progress counted per card), while the same event loop keeps a 10 ms timer; the
timer's lateness is what any other request would wait. No servers needed.

    .venv/bin/python -m loadtest.bench_card_print [--cards 5000]
"""

from __future__ import annotations

import argparse
import asyncio
import io
import statistics
import time

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from checkin.cards.format import new_card_id, sign_card
from checkin.cards.printing import PrintCard, cards_pdf
from checkin.roster.synth import generate_roster

TICK_S = 0.010


def synthetic_cards(count: int) -> list[PrintCard]:
    roster = generate_roster(count)
    teams = {t.team_id: t.name for t in roster.teams}
    key = Ed25519PrivateKey.generate()
    cards = []
    for volunteer in roster.volunteers:
        card_id = new_card_id()
        cards.append(PrintCard(sign_card(key, card_id), card_id, volunteer.name, teams[volunteer.team_id]))
    return cards


async def drawn_beside_a_timer(cards: list[PrintCard]) -> tuple[float, int, list[float], int]:
    """(seconds, pages, the timer's lateness in ms, progress updates seen)."""
    done = [0]
    seen: list[int] = []
    late: list[float] = []
    buffer = io.BytesIO()

    def advance(n: int) -> None:
        done[0] = n

    started = time.perf_counter()
    drawing = asyncio.ensure_future(asyncio.to_thread(cards_pdf, cards, buffer, False, workers=1, advance=advance))
    while not drawing.done():
        before = time.perf_counter()
        await asyncio.sleep(TICK_S)
        late.append((time.perf_counter() - before - TICK_S) * 1000)
        if not seen or seen[-1] != done[0]:
            seen.append(done[0])
    pages = drawing.result()
    return time.perf_counter() - started, pages, late, len(seen)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cards", type=int, default=5000)
    args = parser.parse_args()
    cards = synthetic_cards(args.cards)
    seconds, pages, late, updates = asyncio.run(drawn_beside_a_timer(cards))
    late.sort()
    print(f"{args.cards:,} cards, {pages} pages, drawn in a thread in {seconds:.1f} s ({updates} progress values seen)")
    print(f"10 ms timer on the same loop, {len(late):,} ticks: lateness p50 {statistics.median(late):.1f} ms,"
          f" p99 {late[int(len(late) * 0.99)]:.1f} ms, max {late[-1]:.1f} ms")


if __name__ == "__main__":
    main()
