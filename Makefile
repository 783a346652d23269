# infrafs: thin targets over meson, ninja and pytest.
#   make demo    install what is missing, build, mount a fake cloud, show the tree
#   make check   install what is missing, build, run every unit and integration test
#   make bench   speed figures against baselines measured in the same run

BUILD ?= build
PYTEST ?= pytest-3
PYTHON ?= /usr/bin/python3
MESON_FLAGS ?=
# CI turns warnings into errors.
ifdef CI
MESON_FLAGS += -Dwerror=true
endif

.PHONY: all deps build demo check unit integration bench clean

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

bench: build
	INFRAFS_BIN=$(abspath $(BUILD)/src/infrafs) $(PYTHON) -m tests.bench

clean:
	rm -rf $(BUILD)
