# shoal — build, run, test.
#
#   make                 build build/shoal
#   make run             install missing packages, build, run on the embedded default config
#   make test            install what the tests need, build, run unit + integration tests
#   make bench           side-by-side benchmark against NGINX, h2o, Node's cluster and
#                        a floor (BENCH_ARGS="--quick" for a smoke run under a minute)
#   make bench-ws        WebSocket echo beside Node's cluster with the ws package
#   make bench-kv        kv GET through Redis beside Node's cluster with the redis package
#   make bench-relay     how channel messages cross workers: the master's relay against
#                        shared-memory rings (scripts/benchlib/relay.c)
#   make bench-pubsub    channels' fan-out (SSE, WebSocket) beside Node's cluster with
#                        ws and Redis pub/sub
#   make chat            the chat application (scripts/chat/) on 127.0.0.1:8080, 2 workers
#   make fuzz            libFuzzer runs of the request path and the parser (FUZZ_TIME=60 s each)
#   make install         binary, man page, systemd unit, example config, module
#                        API headers and shoal.pc under PREFIX (/usr/local),
#                        staged under DESTDIR if set; make uninstall
#   make SANITIZE=address,undefined ...   instrumented build (in build-san/)
#   make V=1             show the full compiler command lines

CC      ?= cc
PKGS    := libevent libevent_pthreads jansson libsystemd nettle hiredis
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
# Debian's libwslay-dev and libunistring-dev ship no pkg-config file.
LDLIBS  += $(shell pkg-config --libs $(PKGS) 2>/dev/null || echo -levent -levent_pthreads -ljansson -lsystemd -lnettle -lhiredis) \
           -lwslay -lunistring -lpthread -lm

ifdef SANITIZE
BUILD   ?= build-san
ALL_CFLAGS += -fsanitize=$(SANITIZE) -fno-omit-frame-pointer -fno-sanitize-recover=all
LDFLAGS += -fsanitize=$(SANITIZE)
else
BUILD   ?= build
endif

# Sources may sit in sub-folders of common/, master/ and worker/.
SRC        := $(sort $(shell find common master worker -name '*.c'))
OBJ        := $(SRC:%.c=$(BUILD)/%.o)
LIB_OBJ    := $(filter-out $(BUILD)/master/main.o,$(OBJ))

UNIT_SRC   := $(sort $(shell find tests/unit -name 'test_*.c'))
UNIT_BIN   := $(UNIT_SRC:tests/unit/%.c=$(BUILD)/tests/%)

ifndef V
Q   = @
say = @printf '  %-6s %s\n' $(1) $(2);
endif

.PHONY: all run test unit integration bench bench-ws bench-kv bench-relay bench-pubsub chat deps \
        test-deps clean fuzz install uninstall

all: $(BUILD)/shoal

# -rdynamic: application modules (dlopen'ed by workers) call the handler API
# (worker/api/http.h) that the binary itself provides.
$(BUILD)/shoal: $(OBJ)
	$(call say,LINK,$@)$(CC) $(LDFLAGS) -rdynamic -o $@ $^ $(LDLIBS) -ldl

# Example application modules (tests/modules/*.c -> $(BUILD)/modules/*.so).
MODULE_SRC := $(wildcard tests/modules/*.c)
MODULES    := $(MODULE_SRC:tests/modules/%.c=$(BUILD)/modules/%.so)
$(BUILD)/modules/%.so: tests/modules/%.c
	@mkdir -p $(@D)
	$(call say,CC,$<)$(CC) $(CPPFLAGS) $(ALL_CFLAGS) -fPIC -shared -o $@ $<

$(BUILD)/%.o: %.c
	@mkdir -p $(@D)
	$(call say,CC,$<)$(CC) $(CPPFLAGS) $(ALL_CFLAGS) -c -o $@ $<

# Unit tests #include the .c under test to reach its statics, so they link
# against every other object except the one they include and main.o.
$(BUILD)/tests/%: tests/unit/%.c $(LIB_OBJ)
	@mkdir -p $(@D)
	$(call say,CC,$<)$(CC) $(CPPFLAGS) $(ALL_CFLAGS) -Wno-missing-prototypes -o $@ $< \
	    $(filter-out $(BUILD)/$(patsubst test_%,%,$(notdir $*)).o $(BUILD)/$(dir $*)$(patsubst test_%,%,$(notdir $*)).o,$(LIB_OBJ)) \
	    $(LDFLAGS) $(LDLIBS) -lcmocka -lhttp_parser

deps:
	@scripts/deps

test-deps:
	@scripts/deps --test

run: deps
	@$(MAKE) --no-print-directory all
	exec $(BUILD)/shoal

unit: $(UNIT_BIN)
	@scripts/run-unit $(UNIT_BIN)

# ITEST=test_http::,test_ops:: runs only the integration tests whose
# module::name contains one of these (default: all).
integration: $(BUILD)/shoal $(MODULES)
	@python3 tests/integration/run.py --binary $(BUILD)/shoal $(if $(ITEST),-k '$(ITEST)')

test: test-deps
	@$(MAKE) --no-print-directory all unit
	@$(MAKE) --no-print-directory integration

bench: $(BUILD)/shoal
	@scripts/deps --bench
	@scripts/bench --binary $(BUILD)/shoal $(BENCH_ARGS)

bench-ws: $(BUILD)/shoal
	@scripts/deps --bench
	@scripts/bench-ws --binary $(BUILD)/shoal

bench-kv: $(BUILD)/shoal
	@scripts/deps --bench
	@scripts/bench-kv --binary $(BUILD)/shoal

bench-relay:
	@scripts/bench-relay

bench-pubsub: $(BUILD)/shoal
	@scripts/deps --bench
	@scripts/bench-pubsub --binary $(BUILD)/shoal $(BENCH_ARGS)

chat: $(BUILD)/shoal
	$(BUILD)/shoal -c scripts/chat/chat.json

# ---- fuzzing ---------------------------------------------------------------
# Two libFuzzer targets, built by clang with coverage instrumentation and
# ASan+UBSan (any UBSan finding aborts) from every object but main.o:
#   fuzz_http   the whole request path of one connection (conn.c, the
#               parser, the router, the built-in handlers)
#   fuzz_parse  shoal's request parser against Node's http_parser on the
#               same bytes (tests/fuzz/diff.h: what both accept is the same
#               request; shoal accepts nothing http_parser refuses)
# 'make fuzz' runs each for FUZZ_TIME seconds on a copy of the seed corpus
# (new inputs accumulate in build-fuzz/corpus, not in the tree) and fails
# on any crash, leak, sanitizer report or timeout; the reproducer is left
# in build-fuzz/artifacts/ and printed (base64) with the log's tail.
# FUZZ_RUNS=N FUZZ_SEED=S make a run repeatable: N inputs from the seed S
# (still bounded by FUZZ_TIME). CI runs that way, so that it replays what
# was fuzzed clean here instead of exploring anew; exploring is a run
# without them, for as long as one likes.
FUZZ_BUILD := build-fuzz
FUZZ_CC    ?= clang
FUZZ_TIME  ?= 60
FUZZ_RUNS  ?=
FUZZ_SEED  ?= 1
FUZZ_SAN   := -fsanitize=address,undefined -fno-sanitize-recover=all \
              -fno-omit-frame-pointer
FUZZ_CFLAGS = -std=c11 -g -O1 $(WARN) -MMD -MP $(CFLAGS) $(FUZZ_SAN) \
              $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
FUZZ_LIB   := $(filter-out $(FUZZ_BUILD)/master/main.o,$(SRC:%.c=$(FUZZ_BUILD)/%.o))
FUZZ_OBJ   := $(FUZZ_LIB) $(FUZZ_BUILD)/tests/fuzz/fuzz_http.o \
              $(FUZZ_BUILD)/tests/fuzz/fuzz_parse.o $(FUZZ_BUILD)/tests/fuzz/diff.o
FUZZ_FLAGS := -dict=tests/fuzz/http.dict -max_len=16384 -timeout=10 \
              -print_final_stats=1 -artifact_prefix=$(FUZZ_BUILD)/artifacts/
FUZZ_TARGETS := fuzz_http fuzz_parse

$(FUZZ_BUILD)/%.o: %.c
	@mkdir -p $(@D)
	$(call say,CC,$<)$(FUZZ_CC) $(CPPFLAGS) $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link -c -o $@ $<

$(FUZZ_BUILD)/fuzz_http: $(FUZZ_LIB) $(FUZZ_BUILD)/tests/fuzz/fuzz_http.o
	$(call say,LINK,$@)$(FUZZ_CC) $(LDFLAGS) $(FUZZ_SAN) -fsanitize=fuzzer -o $@ $^ $(LDLIBS) -ldl

$(FUZZ_BUILD)/fuzz_parse: $(FUZZ_LIB) $(FUZZ_BUILD)/tests/fuzz/fuzz_parse.o \
                          $(FUZZ_BUILD)/tests/fuzz/diff.o
	$(call say,LINK,$@)$(FUZZ_CC) $(LDFLAGS) $(FUZZ_SAN) -fsanitize=fuzzer -o $@ $^ $(LDLIBS) -ldl -lhttp_parser

fuzz:
	@scripts/deps --fuzz
	@$(MAKE) --no-print-directory $(FUZZ_TARGETS:%=$(FUZZ_BUILD)/%)
	@for t in $(FUZZ_TARGETS); do \
	    mkdir -p $(FUZZ_BUILD)/corpus-$$t $(FUZZ_BUILD)/artifacts && \
	    cp tests/fuzz/corpus/* $(FUZZ_BUILD)/corpus-$$t/ && \
	    echo "$$t: $(FUZZ_TIME)s on $(FUZZ_BUILD)/corpus-$$t" && \
	    UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	    $(FUZZ_BUILD)/$$t $(FUZZ_FLAGS) -max_total_time=$(FUZZ_TIME) \
	        $(if $(FUZZ_RUNS),-runs=$(FUZZ_RUNS) -seed=$(FUZZ_SEED)) \
	        $(FUZZ_BUILD)/corpus-$$t > $(FUZZ_BUILD)/$$t.log 2>&1 || { \
	        tail -n 80 $(FUZZ_BUILD)/$$t.log; \
	        for a in $(FUZZ_BUILD)/artifacts/*; do \
	            [ -f "$$a" ] && [ $$(stat -c %s "$$a") -le 8192 ] && \
	            { echo "$$a (base64):"; base64 "$$a"; }; \
	        done; \
	        echo "$$t: finding saved in $(FUZZ_BUILD)/artifacts/;" \
	            "reproduce with $(FUZZ_BUILD)/$$t FILE" >&2; exit 1; }; \
	    grep -E '^(#[0-9]+\s+DONE|Done|stat::)' $(FUZZ_BUILD)/$$t.log || \
	        tail -n 5 $(FUZZ_BUILD)/$$t.log; \
	    echo "$$t: no finding (full log: $(FUZZ_BUILD)/$$t.log)"; \
	done

# ---- install -----------------------------------------------------------------
# The module API is worker/api/*.h and what they include from the tree
# (common/buf.h), installed as they sit in it under $(INCLUDEDIR)/shoal/, so
# their #include "common/buf.h" lines work with shoal.pc's -I; the compiler
# lists them, so a header the API comes to include is installed with it.
# The unit and the man page name the paths of this PREFIX. An existing
# $(SYSCONFDIR)/shoal/shoal.json is never overwritten, and is removed by
# uninstall only if it is still the example.
PREFIX     ?= /usr/local
BINDIR     ?= $(PREFIX)/bin
LIBDIR     ?= $(PREFIX)/lib
INCLUDEDIR ?= $(PREFIX)/include
DATADIR    ?= $(PREFIX)/share
MANDIR     ?= $(DATADIR)/man
DOCDIR     ?= $(DATADIR)/doc/shoal
PKGCONFIGDIR   ?= $(LIBDIR)/pkgconfig
SYSTEMDUNITDIR ?= $(LIBDIR)/systemd/system
SYSCONFDIR ?= /etc
INSTALL    ?= install

API_HEADERS = $(sort $(filter common/%.h worker/%.h,$(subst :, ,$(shell \
              $(CC) $(CPPFLAGS) $(shell pkg-config --cflags jansson 2>/dev/null) \
              -MM worker/api/*.h | tr -d '\\'))))
EDIT = sed -e 's|@BINDIR@|$(BINDIR)|g' -e 's|@SYSCONFDIR@|$(SYSCONFDIR)|g' \
           -e 's|@PREFIX@|$(PREFIX)|g' -e 's|@INCLUDEDIR@|$(INCLUDEDIR)|g' \
           -e 's|@VERSION@|$(VERSION)|g' -e 's|@DOCDIR@|$(DOCDIR)|g' \
           -e 's|@SYSTEMDUNITDIR@|$(SYSTEMDUNITDIR)|g'

install: $(BUILD)/shoal
	$(INSTALL) -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(MANDIR)/man1 \
	    $(DESTDIR)$(SYSTEMDUNITDIR) $(DESTDIR)$(DOCDIR) \
	    $(DESTDIR)$(PKGCONFIGDIR) $(DESTDIR)$(SYSCONFDIR)/shoal
	$(INSTALL) -m 755 $(BUILD)/shoal $(DESTDIR)$(BINDIR)/shoal
	$(EDIT) scripts/man/shoal.1 > $(DESTDIR)$(MANDIR)/man1/shoal.1
	chmod 644 $(DESTDIR)$(MANDIR)/man1/shoal.1
	sed -e 's|/usr/local/bin/shoal|$(BINDIR)/shoal|g' \
	    -e 's|/etc/shoal/|$(SYSCONFDIR)/shoal/|g' scripts/systemd/shoal.service \
	    > $(DESTDIR)$(SYSTEMDUNITDIR)/shoal.service
	chmod 644 $(DESTDIR)$(SYSTEMDUNITDIR)/shoal.service
	$(INSTALL) -m 644 scripts/config/shoal.json scripts/nginx/shoal.conf \
	    scripts/systemd/shoal.socket $(DESTDIR)$(DOCDIR)/
	$(INSTALL) -m 644 tests/modules/greeting.c $(DESTDIR)$(DOCDIR)/module-example.c
	test -e $(DESTDIR)$(SYSCONFDIR)/shoal/shoal.json || \
	    $(INSTALL) -m 644 scripts/config/shoal.json $(DESTDIR)$(SYSCONFDIR)/shoal/
	for h in $(API_HEADERS); do \
	    $(INSTALL) -d $(DESTDIR)$(INCLUDEDIR)/shoal/$$(dirname $$h) && \
	    $(INSTALL) -m 644 $$h $(DESTDIR)$(INCLUDEDIR)/shoal/$$h || exit 1; \
	done
	$(EDIT) scripts/config/shoal.pc.in > $(DESTDIR)$(PKGCONFIGDIR)/shoal.pc
	chmod 644 $(DESTDIR)$(PKGCONFIGDIR)/shoal.pc

uninstall:
	rm -f $(DESTDIR)$(BINDIR)/shoal $(DESTDIR)$(MANDIR)/man1/shoal.1 \
	    $(DESTDIR)$(SYSTEMDUNITDIR)/shoal.service $(DESTDIR)$(PKGCONFIGDIR)/shoal.pc
	rm -rf $(DESTDIR)$(INCLUDEDIR)/shoal $(DESTDIR)$(DOCDIR)
	if cmp -s scripts/config/shoal.json $(DESTDIR)$(SYSCONFDIR)/shoal/shoal.json; then \
	    rm -f $(DESTDIR)$(SYSCONFDIR)/shoal/shoal.json; \
	    rmdir $(DESTDIR)$(SYSCONFDIR)/shoal 2>/dev/null || true; fi

clean:
	rm -rf build build-san build-fuzz

-include $(OBJ:.o=.d) $(UNIT_BIN:=.d) $(MODULES:.so=.d)
-include $(FUZZ_OBJ:.o=.d)
