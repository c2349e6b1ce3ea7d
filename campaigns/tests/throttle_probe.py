"""A process that takes send tokens from the shared Redis bucket and prints when each was granted.

    python -m campaigns.tests.throttle_probe SENDER RATE COUNT

Prints "ready" once Django is set up, waits for a line on stdin (so that two
probes start taking at the same moment, however slowly each one started),
then prints one JSON list: the bucket's clock (ms) at each granted token. Run
two at once to see that they share one pace.
"""

import json
import sys
import time

import django


def main(sender: str, rate: float, count: int) -> list[int]:
    django.setup()
    from campaigns.throttle import throttle_take

    print("ready", flush=True)
    sys.stdin.readline()

    granted: list[int] = []
    while len(granted) < count:
        grant = throttle_take(sender, rate, want=count - len(granted))
        granted.extend([grant.at_ms] * grant.tokens)
        if not grant.tokens:
            time.sleep(grant.wait_ms / 1000)
    return granted


if __name__ == "__main__":
    print(json.dumps(main(sys.argv[1], float(sys.argv[2]), int(sys.argv[3]))))
