# Plane: the user's entry point.  A thin wrapper over scripts/ and CMake.
#   make deps    install every Debian package Plane needs (idempotent)
#   make         deps + configure and build into build/
#   make test    deps + a sanitizer build (ASan+UBSan, libFuzzer with clang) + ctest
#   make demo    run the main job on a local rack on 127.0.0.1
#   make bench   run the benchmarks

JOBS ?= $(shell nproc 2>/dev/null || echo 2)
BUILD ?= build
TEST_BUILD ?= build/test
CMAKE ?= cmake
CC_TEST := $(shell command -v clang >/dev/null 2>&1 && echo clang || echo cc)
FUZZ_TEST := $(shell command -v clang >/dev/null 2>&1 && echo ON || echo OFF)

.PHONY: all deps build test demo bench clean install

all: build

deps:
	@./scripts/install-deps.sh

# deps first: on a fresh machine the libraries are missing even when cmake is not.
build: deps
	$(CMAKE) -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
	$(CMAKE) --build $(BUILD) -j $(JOBS)

test: deps
	$(CMAKE) -S . -B $(TEST_BUILD) -DCMAKE_BUILD_TYPE=Debug \
	    -DCMAKE_C_COMPILER=$(CC_TEST) -DPLANE_SANITIZE=ON -DPLANE_FUZZ=$(FUZZ_TEST)
	$(CMAKE) --build $(TEST_BUILD) -j $(JOBS)
	cd $(TEST_BUILD) && ctest --output-on-failure --timeout 600 -j $(JOBS)

demo: build
	BUILD=$(abspath $(BUILD)) ./scripts/demo.sh

# Figures print as `name: value` lines (scripts/bench.sh also writes build/bench/results.csv).
bench: build
	$(BUILD)/bench/planner_bench
	BUILD=$(abspath $(BUILD)) ./scripts/bench.sh

install: build
	$(CMAKE) --install $(BUILD)

clean:
	rm -rf $(BUILD)
