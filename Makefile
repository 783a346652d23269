# infrafs: thin targets over meson, ninja and pytest.
#   make demo    install what is missing, build, mount a fake cloud, show the tree
#   make check   install what is missing, build, run every unit and integration test
#   make bench   speed figures against baselines measured in the same run
#   make check-sanitize   the same tests under ASan and UBSan (CI runs it too)

BUILD ?= build
PYTEST ?= pytest-3
PYTHON ?= /usr/bin/python3
MESON_FLAGS ?=
# CI turns warnings into errors.
ifdef CI
MESON_FLAGS += -Dwerror=true
endif

.PHONY: all deps build demo check check-sanitize unit integration bench clean

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

# pytest last, so that its summary line closes the output.
check: build
	meson test -C $(BUILD) --print-errorlogs
	INFRAFS_BIN=$(abspath $(BUILD)/src/infrafs) $(PYTEST) tests/integration

# The same suites with AddressSanitizer and UndefinedBehaviorSanitizer.
check-sanitize: deps
	[ -f $(SANITIZE_BUILD)/build.ninja ] || \
		meson setup $(SANITIZE_BUILD) -Db_sanitize=address,undefined -Db_lundef=false $(MESON_FLAGS)
	ninja -C $(SANITIZE_BUILD)
	$(SANITIZE_ENV) meson test -C $(SANITIZE_BUILD) --print-errorlogs
	$(SANITIZE_ENV) INFRAFS_BIN=$(abspath $(SANITIZE_BUILD)/src/infrafs) $(PYTEST) -p no:cacheprovider tests/integration

bench: build
	INFRAFS_BIN=$(abspath $(BUILD)/src/infrafs) $(PYTHON) -m tests.bench

clean:
	rm -rf $(BUILD) $(SANITIZE_BUILD)
