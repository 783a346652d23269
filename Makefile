# infrafs: thin targets over meson, ninja and pytest.
#   make demo    install what is missing, build, mount a fake cloud, show the tree
#   make check   install what is missing, build, run every unit and integration test,
#                then the shape-dependent integration tests against older and newer Novas
#   make bench   speed figures against baselines measured in the same run
#   make check-sanitize   the same tests under ASan and UBSan (CI runs it too)
#   make fuzz    each libFuzzer target of tests/fuzz/ for FUZZ_SECONDS (60) seconds
#   make soak    readers, invalidations and backend chaos for SOAK_SECONDS (180); bytes
#                checked against what the fake served, RSS and descriptors must stay flat
#   make valgrind   the daemon's whole life (mount, read all, invalidate, unmount)
#                under memcheck: no error, no definite leak

BUILD ?= build
PYTEST ?= pytest-3
PYTHON ?= /usr/bin/python3
MESON_FLAGS ?=
# CI turns warnings into errors.
ifdef CI
MESON_FLAGS += -Dwerror=true
endif

.PHONY: all deps build demo check check-sanitize unit integration bench clean \
	fuzz fuzz-build fuzz-smoke soak valgrind

SANITIZE_BUILD ?= build-sanitize
# Leaks count: the daemon must exit with everything freed.
SANITIZE_ENV = ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 \
	UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1

all: build

deps:
	@scripts/deps.sh

$(BUILD)/build.ninja:
	meson setup $(BUILD) $(MESON_FLAGS)

build: deps $(BUILD)/build.ninja
	ninja -C $(BUILD)

demo: build
	@scripts/demo.sh $(BUILD)/src/infrafs

unit: build
	meson test -C $(BUILD) --print-errorlogs

integration: build
	INFRAFS_BIN=$(abspath $(BUILD)/src/infrafs) $(PYTEST) tests/integration

# The integration modules whose checks depend on the shapes of Nova's answers
# or on the requests a fetch costs: the tree against the API objects
# (hypervisors, flavors, servers), Placement by hypervisor, changes through
# the API, hostile names, request counts, the cache's size, failures of
# flavors. `make check` runs them again against fakes that offer at most
# 2.60 (hypervisors with vcpus, memory_mb, cpu_info; flavors without inline
# extra_specs, so one request more per flavor) and 2.90 (hypervisors
# without capacity, which is in Placement only): about 30 s a run, against
# well over a minute for the whole suite. The other modules check behaviour
# (errors, staleness, retries, mounting, warming, live/) that is the same at
# every microversion; INFRAFS_FAKE_MAX_MICROVERSION=2.60 `make integration`
# runs all of them.
MICROVERSION_TESTS = $(addprefix tests/integration/,test_tree.py test_placement.py \
	test_mutations.py test_names.py test_cache.py test_memory.py test_errors.py \
	test_control.py)

# pytest last, so that its summary line closes the output. The first run is
# against the fake's default microversion, whatever the environment says.
check: build
	meson test -C $(BUILD) --print-errorlogs
	$(MAKE) --no-print-directory fuzz-smoke
	INFRAFS_FAKE_MAX_MICROVERSION= INFRAFS_BIN=$(abspath $(BUILD)/src/infrafs) $(PYTEST) tests/integration
	INFRAFS_FAKE_MAX_MICROVERSION=2.60 INFRAFS_BIN=$(abspath $(BUILD)/src/infrafs) $(PYTEST) $(MICROVERSION_TESTS)
	INFRAFS_FAKE_MAX_MICROVERSION=2.90 INFRAFS_BIN=$(abspath $(BUILD)/src/infrafs) $(PYTEST) $(MICROVERSION_TESTS)

# The same suites with AddressSanitizer and UndefinedBehaviorSanitizer.
check-sanitize: deps
	[ -f $(SANITIZE_BUILD)/build.ninja ] || \
		meson setup $(SANITIZE_BUILD) -Db_sanitize=address,undefined -Db_lundef=false $(MESON_FLAGS)
	ninja -C $(SANITIZE_BUILD)
	$(SANITIZE_ENV) meson test -C $(SANITIZE_BUILD) --print-errorlogs
	$(SANITIZE_ENV) INFRAFS_FAKE_MAX_MICROVERSION= INFRAFS_BIN=$(abspath $(SANITIZE_BUILD)/src/infrafs) $(PYTEST) -p no:cacheprovider tests/integration

# libFuzzer targets (tests/fuzz/, docs/testing.md "Fuzzing"): clang, ASan and
# UBSan, in a build directory of their own. `make fuzz` runs each target for
# FUZZ_SECONDS on a scratch copy of its seed corpus and prints its executions;
# `make check` runs the saved crash inputs and a smoke run of
# FUZZ_SMOKE_SECONDS per target.
FUZZ_BUILD ?= build-fuzz
FUZZ_SECONDS ?= 60
FUZZ_SMOKE_SECONDS ?= 4
FUZZ_TARGETS ?= model names control l2

$(FUZZ_BUILD)/build.ninja:
	CC=clang meson setup $(FUZZ_BUILD) -Dfuzz=true -Dtests=false \
		-Db_sanitize=address,undefined -Db_lundef=false $(MESON_FLAGS)

fuzz-build: deps $(FUZZ_BUILD)/build.ninja
	ninja -C $(FUZZ_BUILD) fuzz

fuzz: fuzz-build
	tests/fuzz/run.sh $(FUZZ_BUILD) $(FUZZ_SECONDS) $(FUZZ_TARGETS)

fuzz-smoke: fuzz-build
	tests/fuzz/run.sh $(FUZZ_BUILD) $(FUZZ_SMOKE_SECONDS) $(FUZZ_TARGETS)

# BENCH_FLAGS: e.g. --only-redis, --skip-redis (python3 -m tests.bench --help).
BENCH_FLAGS ?=
bench: build
	INFRAFS_BIN=$(abspath $(BUILD)/src/infrafs) $(PYTHON) -m tests.bench $(BENCH_FLAGS)

SOAK_SECONDS ?= 180
soak: build
	INFRAFS_BIN=$(abspath $(BUILD)/src/infrafs) $(PYTHON) -m tests.soak --seconds $(SOAK_SECONDS)

valgrind: build
	INFRAFS_BIN=$(abspath $(BUILD)/src/infrafs) $(PYTHON) -m tests.memcheck

clean:
	rm -rf $(BUILD) $(SANITIZE_BUILD) $(FUZZ_BUILD)
