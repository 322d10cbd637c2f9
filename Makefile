# shoal — build, run, test.
#
#   make                 build build/shoal
#   make run             install missing packages, build, run on the embedded default config
#   make test            install what the tests need, build, run unit + integration tests
#   make bench           side-by-side benchmark against NGINX and Node's cluster
#   make SANITIZE=address,undefined ...   instrumented build (in build-san/)
#   make V=1             show the full compiler command lines

CC      ?= cc
PKGS    := libevent libevent_pthreads jansson
VERSION := $(shell cat VERSION 2>/dev/null || echo 0.1.0)

WARN    := -Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes \
           -Wpointer-arith -Wformat=2 -Wcast-qual -Wvla -Wundef
ifdef WERROR
WARN    += -Werror
endif

OPT     ?= -O2 -g
CFLAGS  ?=
CPPFLAGS += -I. -D_GNU_SOURCE -DSHOAL_VERSION='"$(VERSION)"'
ALL_CFLAGS = -std=c11 $(OPT) $(WARN) -MMD -MP $(CFLAGS) \
             $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
LDLIBS  += $(shell pkg-config --libs $(PKGS) 2>/dev/null || echo -levent -levent_pthreads -ljansson) \
           -lhttp_parser -lpthread -lm

ifdef SANITIZE
BUILD   ?= build-san
ALL_CFLAGS += -fsanitize=$(SANITIZE) -fno-omit-frame-pointer -fno-sanitize-recover=all
LDFLAGS += -fsanitize=$(SANITIZE)
else
BUILD   ?= build
endif

SRC_COMMON := $(wildcard common/*.c)
SRC_MASTER := $(wildcard master/*.c)
SRC_WORKER := $(wildcard worker/*.c)
SRC        := $(SRC_COMMON) $(SRC_MASTER) $(SRC_WORKER)
OBJ        := $(SRC:%.c=$(BUILD)/%.o)
LIB_OBJ    := $(filter-out $(BUILD)/master/main.o,$(OBJ))

UNIT_SRC   := $(wildcard tests/unit/*/test_*.c)
UNIT_BIN   := $(UNIT_SRC:tests/unit/%.c=$(BUILD)/tests/%)

ifndef V
Q   = @
say = @printf '  %-6s %s\n' $(1) $(2);
endif

.PHONY: all run test unit integration bench deps test-deps clean fuzz install

all: $(BUILD)/shoal

$(BUILD)/shoal: $(OBJ)
	$(call say,LINK,$@)$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/%.o: %.c
	@mkdir -p $(@D)
	$(call say,CC,$<)$(CC) $(CPPFLAGS) $(ALL_CFLAGS) -c -o $@ $<

# Unit tests #include the .c under test to reach its statics, so they link
# against every other object except the one they include and main.o.
$(BUILD)/tests/%: tests/unit/%.c $(LIB_OBJ)
	@mkdir -p $(@D)
	$(call say,CC,$<)$(CC) $(CPPFLAGS) $(ALL_CFLAGS) -Wno-missing-prototypes -o $@ $< \
	    $(filter-out $(BUILD)/$(patsubst test_%,%,$(notdir $*)).o $(BUILD)/$(dir $*)$(patsubst test_%,%,$(notdir $*)).o,$(LIB_OBJ)) \
	    $(LDFLAGS) $(LDLIBS) -lcmocka

deps:
	@scripts/deps

test-deps:
	@scripts/deps --test

run: deps
	@$(MAKE) --no-print-directory all
	exec $(BUILD)/shoal

unit: $(UNIT_BIN)
	@scripts/run-unit $(UNIT_BIN)

integration: $(BUILD)/shoal
	@python3 tests/integration/run.py --binary $(BUILD)/shoal

test: test-deps
	@$(MAKE) --no-print-directory all unit
	@$(MAKE) --no-print-directory integration

bench: $(BUILD)/shoal
	@scripts/deps --bench
	@scripts/bench --binary $(BUILD)/shoal

clean:
	rm -rf build build-san build-fuzz

-include $(OBJ:.o=.d) $(UNIT_BIN:=.d)
