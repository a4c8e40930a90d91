# adpart-update
# Targets: all check check-asan check-torture fuzz demo bench install uninstall clean deps

PREFIX ?= /usr/local
DESTDIR ?=
BUILD ?= build
VERSION := 0.1.0
# The system config file is $(SYSCONFDIR)/adpart-update/config
# ($ADPART_SYSCONFDIR overrides it at run time, for tests).
SYSCONFDIR ?= /etc

# inih: the config files' INI parser (libinih-dev), small and well kept;
# libcrypto: SHA-256 of the input files with the processor's SHA instructions;
# zlib: large plan documents written gzip-compressed, and read either way.
PKGS := libgit2 libcurl jansson libarchive yaml-0.1 inih libcrypto zlib
CC ?= cc
# -Wformat-truncation stays on: a path that does not fit is an error
# (adp_snprintf_path), and a message is cut only where its precision says.
WARN := -Wall -Wextra -Werror
BASE_CFLAGS := -std=c11 -D_DEFAULT_SOURCE -D_GNU_SOURCE $(WARN) -I. -DADP_VERSION=\"$(VERSION)\" -DADP_SYSCONFDIR=\"$(SYSCONFDIR)\"
OPT ?= -O2 -g
SAN ?=
PKG_CFLAGS = $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS = $(shell pkg-config --libs $(PKGS) 2>/dev/null)
CRIT_CFLAGS = $(shell pkg-config --cflags criterion 2>/dev/null)
CRIT_LIBS = $(shell pkg-config --libs criterion 2>/dev/null)
CFLAGS_ALL = $(BASE_CFLAGS) $(OPT) $(SAN) $(PKG_CFLAGS) $(CFLAGS)
LDLIBS_ALL = $(PKG_LIBS) -lglpk -lm $(LDLIBS)

CORE_SRC := $(wildcard util/*.c history/*.c forecast/*.c partition/*.c plans/*.c orchestrator/*.c orchestrator/*/*.c)
CMD_SRC := $(wildcard cmd/*.c)
UNIT_SRC := $(wildcard tests/unit/*.c)
# One harness per parser in tests/fuzz/NAME.c, its seeds in tests/fuzz/corpus/NAME/.
FUZZ_NAMES := $(filter-out replay,$(basename $(notdir $(wildcard tests/fuzz/*.c))))
CORE_OBJ := $(CORE_SRC:%.c=$(BUILD)/%.o)
CMD_OBJ := $(CMD_SRC:%.c=$(BUILD)/%.o)
UNIT_OBJ := $(UNIT_SRC:%.c=$(BUILD)/%.o)
LIB := $(BUILD)/libadpart.a
BIN := $(BUILD)/adpart-update
UNIT := $(BUILD)/unit-tests
RESEAL := $(BUILD)/plan-reseal
FUZZ_OBJ := $(FUZZ_NAMES:%=$(BUILD)/tests/fuzz/%.o) $(BUILD)/tests/fuzz/replay.o
REPLAY := $(FUZZ_NAMES:%=$(BUILD)/tests/fuzz/replay-%)
FUZZ_BIN := $(FUZZ_NAMES:%=$(BUILD)/tests/fuzz/fuzz-%)
FUZZ_BUILD ?= build-fuzz
FUZZ_CC ?= clang
FUZZ_SECONDS ?= 60

.PHONY: all check check-asan check-torture unit cli fuzz fuzz-replay fuzz-run demo bench install uninstall clean deps
.DEFAULT_GOAL := all

all: $(BIN)

deps:
	@sh .ci/deps

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) -MMD -MP -c $< -o $@

$(BUILD)/tests/unit/%.o: tests/unit/%.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) $(CRIT_CFLAGS) -MMD -MP -c $< -o $@

$(LIB): $(CORE_OBJ)
	@rm -f $@
	ar rcs $@ $^

$(BIN): $(CMD_OBJ) $(LIB)
	$(CC) $(SAN) -o $@ $(CMD_OBJ) $(LIB) $(LDLIBS_ALL)

# Tests link the library, never cmd/: the core must stand on its own.
$(UNIT): $(UNIT_OBJ) $(LIB)
	$(CC) $(SAN) -o $@ $(UNIT_OBJ) $(LIB) $(CRIT_LIBS) $(LDLIBS_ALL)

# Re-seals a plan a black-box test edited on purpose; never installed.
$(RESEAL): $(BUILD)/tests/tools/reseal.o $(LIB)
	$(CC) $(SAN) -o $@ $(BUILD)/tests/tools/reseal.o $(LIB) $(LDLIBS_ALL)

unit: $(UNIT)
	$(UNIT) --jobs 2 $(UNIT_ARGS)

cli: $(BIN) $(RESEAL)
	sh tests/cli/run.sh $(BIN)
	sh tests/cli/man-options.sh $(BIN)

# The fuzz harnesses as plain programs (normal compiler and flags, no
# libFuzzer): every corpus input once, so that a crash once found stays
# fixed.
$(BUILD)/tests/fuzz/replay-%: $(BUILD)/tests/fuzz/%.o $(BUILD)/tests/fuzz/replay.o $(LIB)
	$(CC) $(SAN) -o $@ $^ $(LDLIBS_ALL)

fuzz-replay: $(REPLAY)
	@for n in $(FUZZ_NAMES); do $(BUILD)/tests/fuzz/replay-$$n tests/fuzz/corpus/$$n || exit 1; done

# The same harnesses under libFuzzer (clang; SAN adds fuzzer-no-link).
$(BUILD)/tests/fuzz/fuzz-%: $(BUILD)/tests/fuzz/%.o $(LIB)
	$(CC) $(SAN) -fsanitize=fuzzer -o $@ $^ $(LDLIBS_ALL)

fuzz-run: $(FUZZ_BIN)
	sh tests/fuzz/run.sh $(BUILD) $(FUZZ_SECONDS) $(FUZZ_NAMES)

check: deps
	@$(MAKE) --no-print-directory unit cli fuzz-replay

# Every allocation point and every write, fsync and rename of plan and
# apply (exec driver; local driver on live HAProxy under load) made to
# fail in turn (tests/torture/run.sh); about 25 minutes, so not part of
# check. TORTURE_CASES="plan apply live" picks cases.
TORTURE_LIB := $(BUILD)/tests/torture/failmalloc.so
$(TORTURE_LIB): tests/torture/failmalloc.c
	@mkdir -p $(dir $@)
	$(CC) -O1 -g -shared -fPIC $(WARN) -o $@ $< -ldl

check-torture: deps $(BIN) $(TORTURE_LIB)
	sh tests/torture/run.sh $(BIN) $(TORTURE_LIB) $(TORTURE_CASES)

check-asan: deps
	@$(MAKE) --no-print-directory BUILD=build-asan OPT="-O1 -g -fno-omit-frame-pointer" \
		SAN="-fsanitize=address,undefined -fno-sanitize-recover=all" \
		ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 unit cli fuzz-replay

# Each harness for FUZZ_SECONDS under libFuzzer, ASan and UBSan; needs
# clang and its fuzzer runtime, installed here rather than by deps
# (clang 14 is told to let gcc-only warning options pass).
fuzz:
	@sh .ci/deps fuzz
	@$(MAKE) --no-print-directory BUILD=$(FUZZ_BUILD) CC=$(FUZZ_CC) CFLAGS=-Wno-unknown-warning-option \
		OPT="-O1 -g -fno-omit-frame-pointer" SAN="-fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=all" \
		UBSAN_OPTIONS=print_stacktrace=1 fuzz-run

demo: deps
	@$(MAKE) --no-print-directory all
	@mkdir -p $(BUILD)/demo
	$(BIN) plan --inventory testdata/demo/inventory.json --schedule testdata/demo/schedule.json \
		--now 2018-05-06T00:00:00Z --plan-file $(BUILD)/demo/plan.json; \
		rc=$$?; [ $$rc -eq 0 ] || [ $$rc -eq 2 ]
	$(BIN) validate $(BUILD)/demo/plan.json
	sh demo/apply.sh $(BIN)

bench: deps
	@$(MAKE) --no-print-directory all
	sh bench/run.sh $(BIN)

# Completion scripts go where bash and fish look for a package's own,
# generated by the binary being installed, so they match it. zsh's is
# sourced from ~/.zshrc (it goes through bash's), not an fpath function.
COMP_BASH := share/bash-completion/completions/adpart-update
COMP_FISH := share/fish/vendor_completions.d/adpart-update.fish

install: $(BIN)
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/share/man/man1 $(DESTDIR)$(PREFIX)/share/man/man5
	install -d $(dir $(DESTDIR)$(PREFIX)/$(COMP_BASH)) $(dir $(DESTDIR)$(PREFIX)/$(COMP_FISH))
	install -m 755 $(BIN) $(DESTDIR)$(PREFIX)/bin/adpart-update
	install -m 644 man/adpart-update.1 $(DESTDIR)$(PREFIX)/share/man/man1/adpart-update.1
	install -m 644 man/adpart-update.5 $(DESTDIR)$(PREFIX)/share/man/man5/adpart-update.5
	$(BIN) completion bash >$(DESTDIR)$(PREFIX)/$(COMP_BASH)
	$(BIN) completion fish >$(DESTDIR)$(PREFIX)/$(COMP_FISH)

uninstall:
	rm -f $(DESTDIR)$(PREFIX)/bin/adpart-update $(DESTDIR)$(PREFIX)/share/man/man1/adpart-update.1 \
		$(DESTDIR)$(PREFIX)/share/man/man5/adpart-update.5 $(DESTDIR)$(PREFIX)/$(COMP_BASH) \
		$(DESTDIR)$(PREFIX)/$(COMP_FISH)

clean:
	rm -rf build build-asan $(FUZZ_BUILD)

# Kept between runs, though only pattern rules name them.
.SECONDARY: $(FUZZ_OBJ)

-include $(CORE_OBJ:.o=.d) $(CMD_OBJ:.o=.d) $(UNIT_OBJ:.o=.d) $(FUZZ_OBJ:.o=.d) $(BUILD)/tests/tools/reseal.d
