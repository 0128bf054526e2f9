"""One process appending to a room, for the tests of several processes on one database:
`python -m tests.contract.append_process URL AUTHOR COUNT SHARED` prints the sequence
numbers it got, one per line, then `done`. SHARED client ids are the same in every
process, so each must be stored once however many processes retry it at once."""

from __future__ import annotations

import asyncio
import sys
from datetime import UTC, datetime

from rtchat.domain.models import MessageDraft, User
from rtchat.storage import open_storage


async def main(url: str, author: str, count: int, shared: int) -> None:
    storage = await open_storage(url)
    user = User(f"user-{author}", author)
    try:
        drafts = [
            MessageDraft(f"{author}-{i}", "general", user, f"{author} {i}", datetime.now(UTC))
            for i in range(count)
        ]
        drafts += [
            MessageDraft(
                f"{author}-s{i}",
                "general",
                User("user-both", "both"),
                f"s{i}",
                datetime.now(UTC),
                client_id=f"shared-{i}",
            )
            for i in range(shared)
        ]
        results = await asyncio.gather(*(storage.messages.append(d) for d in drafts))
        for message, created in results:
            print(message.seq, message.id, int(created))
        print("done", flush=True)
    finally:
        await storage.close()


if __name__ == "__main__":
    url, author, count, shared = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
    asyncio.run(main(url, author, count, shared))
