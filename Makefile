# bkp: encrypted backup and DR-verification tool.
# make            build build/bkp
# make test       unit + integration tests, normal and sanitizer builds
# make bench      benchmarks against the peers (never part of test or CI)
# make fuzz       build the libFuzzer harnesses and run each FUZZ_SECONDS
#                 (never part of test or CI; docs/FUZZING.md)

CC      ?= cc
BUILD   ?= build
PKGS    = libarchive libsodium libzstd libcurl libcrypto jansson inih libxml-2.0
OPT     ?= -O2 -g
WARN    = -Wall -Wextra -Werror -Wshadow -Wformat=2 -Wstrict-prototypes \
          -Wmissing-prototypes -Wvla -Wpointer-arith -Wcast-qual
SANFLAGS =
ifeq ($(SAN),1)
BUILD   = build-san
SANFLAGS = -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
OPT     = -O1 -g
endif
# The fuzz harnesses (tests/fuzz/) and the library under them: clang with
# libFuzzer's coverage, ASan and UBSan, in a build directory of their own.
FUZZ_CC      ?= clang
FUZZ_SECONDS ?= 60
FUZZ_NAMES    = $(sort $(patsubst tests/fuzz/fuzz_%.c,%,$(wildcard tests/fuzz/fuzz_*.c)))
ifeq ($(FUZZ),1)
BUILD   = build-fuzz
CC      = $(FUZZ_CC)
SANFLAGS = -fsanitize=fuzzer-no-link,address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
OPT     = -O1 -g
# clang only: report.c's tables split long strings across lines on purpose.
WARN   += -Wno-string-concatenation
endif
# BLAKE3 (the hash of format version 2 archives): the system library where
# there is one (libblake3, Debian 13), else its reference C implementation as
# Debian 12 ships it inside the Rust crate's source (librust-blake3-dev),
# compiled here with its own flags (third-party code: no -Werror).
ifeq ($(shell pkg-config --exists libblake3 2>/dev/null && echo y),y)
PKGS   += libblake3
B3_OBJS =
else
B3_DIR  ?= $(lastword $(sort $(wildcard /usr/share/cargo/registry/blake3-1.*/c)))
B3_ARCH := $(shell uname -m)
B3_SRCS = blake3.c blake3_dispatch.c blake3_portable.c
ifeq ($(B3_ARCH),x86_64)
B3_SRCS += blake3_sse2_x86-64_unix.S blake3_sse41_x86-64_unix.S \
           blake3_avx2_x86-64_unix.S blake3_avx512_x86-64_unix.S
B3_DEFS =
else ifeq ($(B3_ARCH),aarch64)
B3_SRCS += blake3_neon.c
B3_DEFS = -DBLAKE3_USE_NEON=1
else
B3_DEFS = -DBLAKE3_NO_SSE2 -DBLAKE3_NO_SSE41 -DBLAKE3_NO_AVX2 -DBLAKE3_NO_AVX512
endif
B3_OBJS = $(addprefix $(BUILD)/blake3/,$(addsuffix .o,$(basename $(B3_SRCS))))
CPPFLAGS += -I$(B3_DIR)
endif
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   := $(shell pkg-config --libs $(PKGS) 2>/dev/null)
CPPFLAGS += -D_GNU_SOURCE -D_FILE_OFFSET_BITS=64 -Icore -Ibkp -Irestore -Iverify -Idrills \
            -DBKP_VERSION='"$(shell cat VERSION)"'
CFLAGS  += -std=c11 $(OPT) $(WARN) $(SANFLAGS) $(PKG_CFLAGS) -pthread
LDFLAGS += $(SANFLAGS) -pthread
LDLIBS  += $(PKG_LIBS) -lm

LIB_SRCS  = $(sort $(wildcard core/*.c bkp/*.c restore/*.c verify/*.c drills/*.c))
LIB_SRCS := $(filter-out bkp/main.c,$(LIB_SRCS))
LIB_OBJS  = $(LIB_SRCS:%.c=$(BUILD)/obj/%.o)
TEST_SRCS = $(sort $(wildcard tests/unit/test_*.c))
TEST_BINS = $(TEST_SRCS:tests/unit/%.c=$(BUILD)/tests/%)

all: $(BUILD)/bkp

$(BUILD)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(CFLAGS) -MMD -MP -c -o $@ $<

$(BUILD)/blake3/%.o: $(B3_DIR)/%.c
	@mkdir -p $(dir $@)
	$(CC) $(OPT) $(SANFLAGS) $(B3_DEFS) -I$(B3_DIR) -c -o $@ $<

$(BUILD)/blake3/%.o: $(B3_DIR)/%.S
	@mkdir -p $(dir $@)
	$(CC) $(B3_DEFS) -c -o $@ $<

$(B3_DIR)/%.c $(B3_DIR)/%.S:
	@echo "BLAKE3 sources not found (want libblake3 or librust-blake3-dev): run scripts/deps.sh" >&2; exit 1

# The files that print BKP_VERSION follow the VERSION file.
$(BUILD)/obj/bkp/main.o $(BUILD)/obj/drills/drill.o \
$(BUILD)/obj/drills/cmd_report.o: VERSION

$(BUILD)/libbkp.a: $(LIB_OBJS) $(B3_OBJS)
	@rm -f $@
	ar rcs $@ $^

$(BUILD)/bkp: $(BUILD)/obj/bkp/main.o $(BUILD)/libbkp.a
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

# Every unit-test binary also links tests/unit/support.c (scratch dirs etc.).
$(BUILD)/tests/%: $(BUILD)/obj/tests/unit/%.o $(BUILD)/obj/tests/unit/support.o $(BUILD)/libbkp.a
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS) -lcriterion

# Test-only tool: forges archives with hostile tar streams (t_forged.sh).
$(BUILD)/tests/bkp-forge: $(BUILD)/obj/tests/tools/forge.o $(BUILD)/libbkp.a
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

unit-bins: $(TEST_BINS) $(BUILD)/tests/bkp-forge

# One libFuzzer binary per harness, with the harnesses' shared helpers.
FUZZ_SUPPORT = $(BUILD)/obj/tests/fuzz/fuzz.o $(BUILD)/obj/tests/fuzz/memstore.o
$(BUILD)/fuzz/fuzz_%: $(BUILD)/obj/tests/fuzz/fuzz_%.o $(FUZZ_SUPPORT) $(BUILD)/libbkp.a
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -fsanitize=fuzzer -o $@ $^ $(LDLIBS)

fuzz-bins: $(FUZZ_NAMES:%=$(BUILD)/fuzz/fuzz_%)

# Build the harnesses (FUZZ=1 selects clang and build-fuzz/).
fuzz-build:
	$(MAKE) FUZZ=1 fuzz-bins

# Run each harness for FUZZ_SECONDS on its seed corpus (tests/fuzz/corpus/).
fuzz: fuzz-build
	tests/fuzz/run.sh build-fuzz $(FUZZ_SECONDS) $(FUZZ_NAMES)

# Unit tests: Criterion, one binary per module.
unit: $(TEST_BINS)
	@tests/run-unit.sh $(BUILD)

# Integration tests drive the real binary (and s3rver through a checking proxy).
integration: $(BUILD)/bkp
	@BKP=$(CURDIR)/$(BUILD)/bkp tests/integration/run.sh

# The whole suite, optimized and under ASan+UBSan.
test:
	$(MAKE) all unit-bins
	$(MAKE) SAN=1 all unit-bins
	tests/run-all.sh

bench: all
	bench/run.sh

clean:
	rm -rf build build-san build-fuzz

.PHONY: all unit unit-bins integration test bench clean fuzz fuzz-build fuzz-bins
-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
