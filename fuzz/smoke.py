# SPDX-License-Identifier: MIT
"""A quick, deterministic run of one fuzz target without atheris: its seeds,
then mutations of them (bit flips, byte changes, inserts, deletes, cuts,
splices, repeated ranges, random bytes), for tests/test_fuzz_smoke.py.

    .venv/bin/python fuzz/smoke.py TARGET COUNT [SEED]

Prints one JSON line: executions, the slowest input's seconds, the first
finding (exception type, message, and the input in hex) or null, the upki
modules loaded without the harness's finder (must be none: fuzz/common.py)
and the upki modules the target reached.
"""

import importlib
import json
import random
import sys
import time
import traceback

import common

_INTERESTING = (0x00, 0x01, 0x7F, 0x80, 0x81, 0x82, 0x84, 0xFF, 0x30, 0x02, 0x0A, 0x0D)


def mutate(rng, seeds):
    data = bytearray(rng.choice(seeds))
    for _ in range(rng.randint(1, 4)):
        op = rng.randrange(9)
        n = len(data)
        if op == 0 and n:
            i = rng.randrange(n)
            data[i] ^= 1 << rng.randrange(8)
        elif op == 1 and n:
            data[rng.randrange(n)] = rng.choice(_INTERESTING)
        elif op == 2:
            data[rng.randint(0, n):rng.randint(0, n)] = bytes([rng.randrange(256)])
        elif op == 3 and n:
            i = rng.randrange(n)
            del data[i:i + rng.randint(1, 16)]
        elif op == 4 and n:
            del data[rng.randint(1, n):]
        elif op == 5:
            other = rng.choice(seeds)
            if other:
                i = rng.randrange(len(other))
                data[rng.randint(0, n):] = other[i:]
        elif op == 6 and n:
            i = rng.randrange(n)
            j = min(n, i + rng.randint(1, 32))
            data[i:i] = data[i:j] * rng.randint(1, 8)
        elif op == 7:
            data = bytearray(rng.randbytes(rng.randint(0, 64)))
        elif op == 8 and n > 1:
            i = rng.randrange(1, n)  # keep the selector byte, change the rest
            data[i] = rng.randrange(256)
    return bytes(data[:16384])


def main(argv):
    name, count = argv[0], int(argv[1])
    rng = random.Random(int(argv[2]) if len(argv) > 2 else 1)
    mod = importlib.import_module("fuzz_" + name)
    seeds = common.seeds(name)
    inputs = list(seeds)
    slowest = 0.0
    finding = None
    done = 0
    for k in range(count):
        data = inputs[k] if k < len(inputs) else mutate(rng, seeds)
        t0 = time.perf_counter()
        try:
            mod.one(data)
        except Exception as e:  # noqa: BLE001 - anything escaping is the finding
            finding = {"type": type(e).__name__, "message": str(e)[:300], "input": data.hex(),
                       "where": traceback.format_exc().strip().splitlines()[-3:]}
            done += 1
            break
        slowest = max(slowest, time.perf_counter() - t0)
        done += 1
    # every upki module the target reached came through the harness's finder (would
    # have been instrumented under atheris), and its code was compiled once
    print(json.dumps({"target": name, "execs": done, "slowest": round(slowest, 4),
                      "finding": finding, "uninstrumented": common.uninstrumented(),
                      "modules": common.instrumented_modules()}))


if __name__ == "__main__":
    main(sys.argv[1:])
