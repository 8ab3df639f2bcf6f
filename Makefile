# Thin wrapper over Meson/Ninja (user space) and Kbuild (kernel module).
BUILD ?= build
MESON_OPTS ?= -Dwerror=true

.PHONY: all check demo kmod bench clean

all: $(BUILD)/build.ninja
	ninja -C $(BUILD)

$(BUILD)/build.ninja:
	meson setup $(BUILD) $(MESON_OPTS)

# The whole test suite; ends with one line "N passed, N failed".
check:
	scripts/install-deps.sh
	/usr/bin/python3 tests/run.py

demo: all
	scripts/demo.sh $(BUILD)/puzzlefs

kmod:
	$(MAKE) -C kernel

bench: all
	bench/run.sh

clean:
	rm -rf $(BUILD) build-*
