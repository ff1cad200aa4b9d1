"""A few real NATS clients for the dashboard screenshot (nats-py): named
services publishing at rates that change over time, subscribers, a queue
group, and request/reply, so every chart and column has something to show.

Usage: python3 scripts/dashboard-clients.py nats://127.0.0.1:PORT SECONDS
"""

import asyncio
import math
import sys
import time


async def main(url: str, seconds: float) -> None:
    import nats

    deadline = time.monotonic() + seconds
    conns = []

    async def connect(name: str):
        nc = await nats.connect(url, name=name, max_reconnect_attempts=0)
        conns.append(nc)
        return nc

    async def drop(msg):
        pass

    # Subscribers first, so nothing published is dropped for want of one.
    audit = await connect("audit-log")
    await audit.subscribe("orders.>", cb=drop)
    await audit.subscribe("payments.*", cb=drop)
    for i in range(3):
        worker = await connect(f"invoice-worker-{i + 1}")
        await worker.subscribe("orders.created", queue="invoicing", cb=drop)
    pricing = await connect("pricing-service")

    async def reply(msg):
        await msg.respond(b'{"price": 42}')

    await pricing.subscribe("pricing.quote", cb=reply)
    metrics = await connect("metrics-sink")
    await metrics.subscribe("telemetry.>", cb=drop)

    orders = await connect("orders-service")
    sensors = await connect("edge-sensors")
    web = await connect("web-frontend")

    async def publish(nc, subject: str, size: int, base: float, swing: float, period: float):
        payload = b"x" * size
        start = time.monotonic()
        while time.monotonic() < deadline:
            t = time.monotonic() - start
            # Messages per 50 ms tick: a slow wave, so the charts move.
            per_second = base + swing * math.sin(2 * math.pi * t / period)
            for _ in range(max(1, int(per_second / 20))):
                await nc.publish(subject, payload)
            await nc.flush()
            await asyncio.sleep(0.05)

    async def quotes():
        while time.monotonic() < deadline:
            try:
                await web.request("pricing.quote", b'{"sku": "A-1"}', timeout=2)
            except Exception:
                pass
            await asyncio.sleep(0.01)

    async def batch_jobs():
        # Connections come and go: three report jobs join for a while.
        await asyncio.sleep(seconds * 0.3)
        jobs = [await nats.connect(url, name=f"report-job-{i + 1}") for i in range(3)]
        until = time.monotonic() + seconds * 0.3
        while time.monotonic() < min(until, deadline):
            for nc in jobs:
                await nc.publish("reports.daily", b"r" * 2048)
            await asyncio.sleep(0.01)
        for nc in jobs:
            await nc.drain()

    await asyncio.gather(
        batch_jobs(),
        publish(orders, "orders.created", 256, 3000, 1500, 40),
        publish(sensors, "telemetry.temperature", 64, 6000, 3000, 25),
        publish(web, "payments.authorized", 512, 800, 600, 30),
        quotes(),
    )
    for nc in conns:
        await nc.drain()


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    asyncio.run(main(sys.argv[1], float(sys.argv[2])))
