"""A Twilio Messages API fake fast enough not to be the benchmark's bottleneck.

The test fake (`testing/fake_twilio.py`) favours inspection and failure
injection; this one runs as its own asyncio process, answers creates with the
same resource, logs (time, To, SID) per message, and can post signed
"delivered" status callbacks for every message it accepted.

    python -m benchmarks.fast_fake --token TOKEN [--callbacks] [--callback-concurrency 8]

prints `port N` once listening. `GET /_stats` and `GET /_log` report what it saw.
"""

import argparse
import asyncio
import base64
import sys
import time

from aiohttp import ClientSession, ClientTimeout, TCPConnector, web
from twilio.request_validator import RequestValidator

from testing.fake_twilio import error_body, message_resource


class FastFake:
    def __init__(self, *, account_sid: str, token: str, callbacks: bool, callback_concurrency: int):
        self.account_sid = account_sid
        self.validator = RequestValidator(token)
        self.expected_auth = "Basic " + base64.b64encode(f"{account_sid}:{token}".encode()).decode()
        self.log: list[tuple[float, str, str]] = []
        self.callbacks = callbacks
        self.callback_concurrency = callback_concurrency
        self.queue: asyncio.Queue = asyncio.Queue()
        self.callbacks_done = 0
        self.callbacks_failed = 0

    async def create(self, request: web.Request) -> web.Response:
        if request.headers.get("Authorization") != self.expected_auth:
            return web.json_response(error_body(20003, 401), status=401)
        form = dict(await request.post())
        if not form.get("To"):
            return web.json_response(error_body(21604), status=400)
        resource = message_resource(self.account_sid, form)
        self.log.append((time.time(), resource["to"], resource["sid"]))
        if self.callbacks and form.get("StatusCallback"):
            self.queue.put_nowait((form["StatusCallback"], resource["sid"], resource["to"]))
        return web.json_response(resource, status=201)

    async def stats(self, request: web.Request) -> web.Response:
        return web.json_response(
            {
                "created": len(self.log),
                "callbacks_done": self.callbacks_done,
                "callbacks_failed": self.callbacks_failed,
                "callbacks_queued": self.queue.qsize(),
            }
        )

    async def dump_log(self, request: web.Request) -> web.Response:
        return web.json_response(self.log)

    async def reset(self, request: web.Request) -> web.Response:
        self.log.clear()
        self.callbacks_done = self.callbacks_failed = 0
        return web.json_response({"ok": True})

    async def _post_callbacks(self, session: ClientSession) -> None:
        while True:
            url, sid, to = await self.queue.get()
            params = {"MessageSid": sid, "MessageStatus": "delivered", "AccountSid": self.account_sid, "To": to}
            headers = {"X-Twilio-Signature": self.validator.compute_signature(url, params)}
            try:
                async with session.post(url, data=params, headers=headers) as response:
                    await response.read()
                    ok = response.status == 200
            except Exception:  # counted; the run reports failures
                ok = False
            if ok:
                self.callbacks_done += 1
            else:
                self.callbacks_failed += 1

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/2010-04-01/Accounts/{account}/Messages.json", self.create)
        app.router.add_get("/_stats", self.stats)
        app.router.add_get("/_log", self.dump_log)
        app.router.add_post("/_reset", self.reset)
        return app


async def serve(args) -> None:
    fake = FastFake(
        account_sid=args.account_sid,
        token=args.token,
        callbacks=args.callbacks,
        callback_concurrency=args.callback_concurrency,
    )
    runner = web.AppRunner(fake.app(), access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", args.port, backlog=1024)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]
    print(f"port {port}", flush=True)
    if args.callbacks:
        session = ClientSession(
            connector=TCPConnector(limit=args.callback_concurrency), timeout=ClientTimeout(total=30)
        )
        for _ in range(args.callback_concurrency):
            asyncio.get_running_loop().create_task(fake._post_callbacks(session))
    await asyncio.Event().wait()


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--account-sid", default="AC" + "0" * 32)
    parser.add_argument("--token", required=True)
    parser.add_argument("--callbacks", action="store_true")
    parser.add_argument("--callback-concurrency", type=int, default=8)
    args = parser.parse_args(argv)
    try:
        asyncio.run(serve(args))
    except KeyboardInterrupt:
        sys.exit(0)


if __name__ == "__main__":
    main()
