"""A deliberately simple order book, for differential tests and the benchmark's reference figure.

Every resting order sits in one list; matching sorts the opposite side by price then arrival each
time. Slow and obviously right: the fast book must produce exactly the same fills.
"""

from __future__ import annotations

from market.exchange.types import Fill, Side


class ReferenceBook:
    """Price-time priority by brute force. Same call shapes as :class:`market.exchange.OrderBook`."""

    def __init__(self) -> None:
        self.next_id = 1
        self.resting: list[dict] = []  # each: id, agent, side, price, remaining, seq

    def submit_limit(self, agent: str, side: Side, price: int, qty: int, *, ioc: bool = False) -> tuple[int, list[Fill]]:
        return self._submit(agent, Side(side), price, qty, ioc)

    def submit_market(self, agent: str, side: Side, qty: int) -> list[Fill]:
        return self._submit(agent, Side(side), None, qty, True)[1]

    def cancel(self, order_id: int) -> bool:
        for i, order in enumerate(self.resting):
            if order["id"] == order_id:
                del self.resting[i]
                return True
        return False

    def best_bid(self) -> tuple[int, int] | None:
        return self._best(Side.BUY)

    def best_ask(self) -> tuple[int, int] | None:
        return self._best(Side.SELL)

    def _best(self, side: Side) -> tuple[int, int] | None:
        prices = [o["price"] for o in self.resting if o["side"] is side]
        if not prices:
            return None
        best = max(prices) if side is Side.BUY else min(prices)
        return best, sum(o["remaining"] for o in self.resting if o["side"] is side and o["price"] == best)

    def _submit(self, agent: str, side: Side, price: int | None, qty: int, ioc: bool) -> tuple[int, list[Fill]]:
        order_id = self.next_id
        self.next_id += 1
        fills = []
        remaining = qty

        def crosses(resting_price: int) -> bool:
            if price is None:
                return True
            return resting_price <= price if side is Side.BUY else resting_price >= price

        # the opposite side in priority order: best price first, then earliest arrival
        if side is Side.BUY:
            book = sorted((o for o in self.resting if o["side"] is Side.SELL), key=lambda o: (o["price"], o["id"]))
        else:
            book = sorted((o for o in self.resting if o["side"] is Side.BUY), key=lambda o: (-o["price"], o["id"]))
        for maker in book:
            if not remaining or not crosses(maker["price"]):
                break
            take = min(remaining, maker["remaining"])
            maker["remaining"] -= take
            remaining -= take
            fills.append(Fill(maker["price"], take, maker["agent"], agent, maker["id"], order_id, side))
        self.resting = [o for o in self.resting if o["remaining"] > 0]
        if remaining and not ioc:
            self.resting.append({"id": order_id, "agent": agent, "side": side, "price": price, "remaining": remaining})
        return order_id, fills
