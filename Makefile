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

# Coverage-guided fuzzing (atheris) of every parser, FUZZ_SECONDS per target.
FUZZ_SECONDS ?= 60
fuzz: setup
	$(PY) fuzz/run.py --seconds $(FUZZ_SECONDS)

board: setup
	@boards/unix/run board.img

# The firmware precompiled to .mpy, as boards run it (build/unix/upki/*.mpy).
firmware: setup
	$(PY) -m host_tools.upki_host.mpybuild build/unix

clean:
	rm -rf build .pytest_cache board.img board.img.uid
