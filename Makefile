# upki: make setup | demo | test | bench | board | firmware
VENV := .venv
PY := $(VENV)/bin/python
MPY := $(VENV)/bin/micropython
export MICROPYPATH := $(CURDIR)/firmware:.frozen

.PHONY: setup demo test bench board firmware clean fuzz

setup:
	@sh scripts/setup.sh

demo: setup
	@$(PY) scripts/demo.py

test: setup
	$(VENV)/bin/pytest tests

bench: setup
	$(PY) bench/run.py

# Coverage-guided fuzzing (atheris) of every parser, FUZZ_SECONDS per target,
# FUZZ_JOBS targets at once (`make test` runs each for 2 s: tests/test_fuzz_smoke.py).
FUZZ_SECONDS ?= 60
FUZZ_JOBS ?= 1
fuzz: setup
	$(PY) fuzz/run.py --seconds $(FUZZ_SECONDS) --jobs $(FUZZ_JOBS)

board: setup
	@boards/unix/run board.img

# The firmware precompiled to .mpy, as boards run it (build/unix/upki/*.mpy).
firmware: setup
	$(PY) -m host_tools.upki_host.mpybuild build/unix

clean:
	rm -rf build .pytest_cache board.img board.img.uid
