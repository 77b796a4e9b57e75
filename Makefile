# bkp: encrypted backup and DR-verification tool.
# make            build build/bkp
# make test       unit + integration tests, normal and sanitizer builds
# make bench      benchmarks against the peers (never part of test or CI)

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

$(BUILD)/libbkp.a: $(LIB_OBJS)
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
	rm -rf build build-san

.PHONY: all unit unit-bins integration test bench clean
-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
