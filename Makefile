# adpart-update
# Targets: all check check-asan demo bench install clean deps

PREFIX ?= /usr/local
DESTDIR ?=
BUILD ?= build
VERSION := 0.1.0

PKGS := libgit2 libcurl jansson libarchive yaml-0.1
CC ?= cc
# snprintf truncation is the intended bound on messages and JSON paths.
WARN := -Wall -Wextra -Werror -Wno-format-truncation
BASE_CFLAGS := -std=c11 -D_DEFAULT_SOURCE -D_GNU_SOURCE $(WARN) -I. -DADP_VERSION=\"$(VERSION)\"
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
CORE_OBJ := $(CORE_SRC:%.c=$(BUILD)/%.o)
CMD_OBJ := $(CMD_SRC:%.c=$(BUILD)/%.o)
UNIT_OBJ := $(UNIT_SRC:%.c=$(BUILD)/%.o)
LIB := $(BUILD)/libadpart.a
BIN := $(BUILD)/adpart-update
UNIT := $(BUILD)/unit-tests
RESEAL := $(BUILD)/plan-reseal

.PHONY: all check check-asan unit cli demo bench install clean deps
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

check: deps
	@$(MAKE) --no-print-directory unit cli

check-asan: deps
	@$(MAKE) --no-print-directory BUILD=build-asan OPT="-O1 -g -fno-omit-frame-pointer" \
		SAN="-fsanitize=address,undefined -fno-sanitize-recover=all" \
		ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 unit cli

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

install: $(BIN)
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/share/man/man1 $(DESTDIR)$(PREFIX)/share/man/man5
	install -m 755 $(BIN) $(DESTDIR)$(PREFIX)/bin/adpart-update
	install -m 644 man/adpart-update.1 $(DESTDIR)$(PREFIX)/share/man/man1/adpart-update.1
	install -m 644 man/adpart-update.5 $(DESTDIR)$(PREFIX)/share/man/man5/adpart-update.5

clean:
	rm -rf build build-asan

-include $(CORE_OBJ:.o=.d) $(CMD_OBJ:.o=.d) $(UNIT_OBJ:.o=.d) $(BUILD)/tests/tools/reseal.d
