# director: the two set-up commands of the README are `make demo` and `make test`.
# Everything goes through CMake; this file only names the common jobs.

BUILD    ?= build
JOBS     ?= $(shell nproc)
CMAKE_FLAGS ?=
# CI builds set WERROR=1 (warnings are errors there).
WERROR   ?= 0
DEMO_OUT ?= out/demo

.PHONY: all deps deps-test deps-bench configure build demo test bench fuzz clean

all: build

deps:
	@scripts/install-deps

deps-test:
	@scripts/install-deps --test

deps-bench:
	@scripts/install-deps --bench

$(BUILD)/CMakeCache.txt:
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=Release -DDIRECTOR_WERROR=$(if $(filter 1,$(WERROR)),ON,OFF) $(CMAKE_FLAGS)

configure: $(BUILD)/CMakeCache.txt

build: configure
	cmake --build $(BUILD) -j $(JOBS)

demo: deps
	@$(MAKE) --no-print-directory build
	@scripts/demo $(BUILD)/director $(DEMO_OUT)

test: deps-test
	@$(MAKE) --no-print-directory build
	cd $(BUILD) && ctest --output-on-failure -j $(JOBS)

bench: deps-bench
	@$(MAKE) --no-print-directory build
	@scripts/bench $(BUILD)

fuzz: deps-test
	CC=clang cmake -S . -B build-fuzz -DCMAKE_BUILD_TYPE=RelWithDebInfo -DDIRECTOR_FUZZ=ON -DDIRECTOR_TESTS=OFF
	cmake --build build-fuzz -j $(JOBS)

clean:
	rm -rf $(BUILD) build-fuzz out
