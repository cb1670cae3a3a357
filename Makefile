# Thin wrapper over CMake: the familiar entry points.
#   make          build (build/)
#   make run      build and run the main demo on its defaults
#   make test     build and run every test (ctest)
#   make test-repeat   every test five times over, four at once: run it
#                 after touching threads, locks or waits (flaky tests)
#   make bench    build and run the benchmarks (figures only; about an hour)
#   make bench-quick   a smoke run of the same
#   make asan-test / tsan-test   the test suite under ASan+UBSan / TSan
#   make fuzz     build the libFuzzer targets (clang) and run each for
#                 FUZZ_SECONDS (default 20) over its seed corpus
#   make coverage the test suite in a gcov build, then line coverage of
#                 src/ and tools/ (gcovr; HTML in build-cov/coverage/)
#   make soak     VMMs of every teardown mode ended every way, under memory
#                 pressure and injected failures, for half an hour
#   make sweep    fail every UVC and page allocation of a small VMM life,
#                 one per run, in every teardown mode (docs/reliability.md)
#   make install  the command, liblazypv.a/.so, <lazypv/lazypv.h>, lazypv.pc
#                 and the man pages under PREFIX (/usr/local), DESTDIR honoured
JOBS ?= $(shell nproc 2>/dev/null || echo 2)
CMAKE ?= cmake
PREFIX ?= /usr/local

.PHONY: all install run test test-repeat bench bench-quick asan-test tsan-test fuzz coverage soak sweep clean deps

all: build/Makefile
	$(CMAKE) --build build -j $(JOBS)

build/Makefile:
	@$(MAKE) --no-print-directory deps
	$(CMAKE) -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo

build-asan/Makefile:
	$(CMAKE) -S . -B build-asan -DCMAKE_BUILD_TYPE=Asan
build-tsan/Makefile:
	$(CMAKE) -S . -B build-tsan -DCMAKE_BUILD_TYPE=Tsan
build-fuzz/Makefile:
	@LAZYPV_NEED_CLANG=1 ./.ci/deps
	CC=clang $(CMAKE) -S . -B build-fuzz -DCMAKE_BUILD_TYPE=RelWithDebInfo -DLAZYPV_FUZZ=ON
build-cov/Makefile:
	@LAZYPV_NEED_GCOVR=1 ./.ci/deps
	CC=gcc $(CMAKE) -S . -B build-cov -DCMAKE_BUILD_TYPE=Coverage

install: all
	DESTDIR="$(DESTDIR)" $(CMAKE) --install build --prefix "$(PREFIX)"

# Install what a fresh Debian machine lacks (only when something is missing).
deps:
	@./.ci/deps

run: all
	./build/lazypv run

test: all
	cd build && ctest --output-on-failure -j $(JOBS) --timeout 600

test-repeat: all
	cd build && ctest --output-on-failure -j 4 --repeat until-fail:5 --timeout 600

# The lower layers' costs (and what the hypervisor below takes from idle
# memory), then the teardown designs side by side (sizes up to 8 GiB: about
# an hour and 9 GiB of memory on the reference machine).
bench: all
	./build/lazypv-bench hw mm idle
	./build/lazypv bench --oom --scaling

bench-quick: all
	./build/lazypv-bench --quick hw mm idle
	./build/lazypv bench --quick

asan-test: build-asan/Makefile
	$(CMAKE) --build build-asan -j $(JOBS)
	cd build-asan && ASAN_OPTIONS=detect_leaks=1:allow_user_segv_handler=1 \
	  UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	  LAZYPV_TEST_SCALE=4 ctest --output-on-failure -j $(JOBS) --timeout 1200

tsan-test: build-tsan/Makefile
	$(CMAKE) --build build-tsan -j $(JOBS)
	cd build-tsan && TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1 \
	  LAZYPV_TEST_SCALE=8 ctest --output-on-failure -j $(JOBS) --timeout 1800

fuzz: build-fuzz/Makefile
	$(CMAKE) --build build-fuzz -j $(JOBS)
	./tests/fuzz/run-all.sh build-fuzz $(FUZZ_SECONDS)

# Counters start from zero each time; the figures are lines of src/ and of
# tools/ run by the suite (the tests run tools/ as the lazypv binary).
# COVERAGE_TESTS=REGEX runs only the matching tests (a quick look).
COVERAGE_TESTS ?=
coverage: build-cov/Makefile
	@LAZYPV_NEED_GCOVR=1 ./.ci/deps
	$(CMAKE) --build build-cov -j $(JOBS)
	find build-cov -name '*.gcda' -delete
	cd build-cov && { LAZYPV_TEST_SCALE=2 ctest -j $(JOBS) --timeout 1200 \
	  $(if $(COVERAGE_TESTS),-R '$(COVERAGE_TESTS)'); s=$$?; \
	  cd .. && ./tests/coverage.sh build-cov && exit $$s; }

# SOAK_ARGS adds options, e.g. SOAK_ARGS="--seed 42 --json".
SOAK_SECONDS ?= 1800
soak: all
	./build/lazypv soak --duration $(SOAK_SECONDS) $(SOAK_ARGS)

# Every failure point (the bounded form runs in `make test`: vmm_sweep_*).
sweep: all
	./build/lazypv-sweep --groups

clean:
	rm -rf build build-asan build-tsan build-fuzz build-cov
