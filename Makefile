# aula: `make demo` runs the whole job on a generated sample session; `make test` passes the tests.
# Both install what they need first (scripts/setup).

SHELL := /bin/bash
CARGO ?= cargo
TARGET_DIR := $(or $(CARGO_TARGET_DIR),$(CURDIR)/target)
AULA := $(TARGET_DIR)/release/aula
export AULA_HOME ?= $(CURDIR)/aula-data
DEMO_DIR := $(AULA_HOME)/samples/demo
DEMO_ADDR ?= 127.0.0.1:8080

.PHONY: setup build test demo bench lint

setup:
	@scripts/setup

build: setup
	$(CARGO) build --release --locked

# The whole suite, then the service tests (the API, trust boundary, jobs and the board through
# `aula serve`) again with every catalogue on PostgreSQL.
test: setup
	$(CARGO) test --workspace --locked
	AULA_TEST_CATALOGUE=postgres $(CARGO) test --locked --test serve --test trust --test jobs --test board

lint:
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets --locked -- -D warnings

demo: build
	@echo "== 1. generate a 2-minute hybrid Italian council session in $(DEMO_DIR)"
	$(AULA) sample create "$(DEMO_DIR)" --lang it --seconds 120 --items 3 --speakers 3 --mode hybrid --seed 1
	@echo "== 2. import it into the catalogue ($(AULA_HOME)/aula.db)"
	$(AULA) session import "$(DEMO_DIR)/session.json" --floor-events "$(DEMO_DIR)/floor_events.json" --replace
	$(AULA) session show sample-it-1
	@echo "== 2b. record every source in crash-safe segments, with live HLS (720p + 360p), and join them"
	$(AULA) record sample-it-1 --live
	$(AULA) record finalize sample-it-1
	@echo "== 3. install the default Whisper model (multilingual base, Q8_0 weights) and transcribe the session"
	$(AULA) models install default --precision q8_0
	$(AULA) session transcribe sample-it-1
	@head -n 12 "$(AULA_HOME)/sessions/sample-it-1/transcripts/transcript.txt"
	@echo
	@echo "== 4. who spoke on which agenda item (floor events, the remote stream, the chair's announcements)"
	$(AULA) session timeline sample-it-1
	@echo
	@echo "== 5. publish the press kit: a clip per agenda item (web-720p), subtitles, transcript, feed, ZIP"
	$(AULA) publish sample-it-1 --presets web-720p
	@echo
	@echo "Outputs:"
	@echo "  session document   $(DEMO_DIR)/session.json"
	@echo "  camera recording   $(DEMO_DIR)/camera.mp4"
	@echo "  remote stream      $$(ls $(DEMO_DIR)/remote-*.mp4)"
	@echo "  floor events       $(DEMO_DIR)/floor_events.json"
	@echo "  truth              $(DEMO_DIR)/truth.json"
	@echo "  catalogue          $(AULA_HOME)/aula.db"
	@echo "  transcript         $(AULA_HOME)/sessions/sample-it-1/transcripts/ (json, srt, vtt, txt)"
	@echo "  timeline           $(AULA_HOME)/sessions/sample-it-1/transcripts/timeline.json"
	@echo "  press kit          $(AULA_HOME)/sessions/sample-it-1/packages/press/index.html"
	@echo "  press kit (ZIP)    $(AULA_HOME)/sessions/sample-it-1/packages/sample-it-1-press.zip"
	@echo "  press feed         $(AULA_HOME)/feed.xml"
	@echo "  recordings         $(AULA_HOME)/sessions/sample-it-1/recordings/"
	@echo "  live HLS           $(AULA_HOME)/sessions/sample-it-1/live/index.m3u8"
	@echo "  models             $(AULA_HOME)/models/"
	@echo
	@echo "== 6. serve it all: public pages, search, the staff's workspace and the API (Ctrl-C stops)"
	@echo "  press office token: $$($(AULA) token create --role press --label demo)"
	@echo "  admin token:        $$($(AULA) token create --role admin --label demo)"
	@pw=$$(head -c 18 /dev/urandom | base64 | tr -dc A-Za-z0-9 | head -c 16); \
	for role in admin press clerk; do \
	  printf '%s\n' "$$pw" | $(AULA) user create demo-$$role --role $$role >/dev/null 2>&1 || \
	  printf '%s\n' "$$pw" | $(AULA) user passwd demo-$$role >/dev/null; \
	done; \
	echo "  workspace           http://$(DEMO_ADDR)/workspace (sign in as demo-admin, demo-press or demo-clerk; password $$pw)"
	@echo "  session page        http://$(DEMO_ADDR)/sessions/sample-it-1"
	@echo "  API                 http://$(DEMO_ADDR)/api/v1/openapi.json"
	$(AULA) serve --addr $(DEMO_ADDR)

BENCH_VENV := $(TARGET_DIR)/bench-venv

bench: build
	scripts/bench-setup "$(BENCH_VENV)"
	AULA_BENCH_PYTHON="$(BENCH_VENV)/bin/python" $(CARGO) bench --workspace --locked
