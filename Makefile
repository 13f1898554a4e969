# heaptape - one non-recursive Makefile.  `make help` lists the targets.
#
## all: build heaptape, libheaptape.a/.so and libheaptape-record.so (default)
## check: install missing Debian packages, build, run every test; last line "N passed, N failed"
## demo: record a real program, replay it on every installed allocator, write CSV and a plot
## asan: `check` with -fsanitize=address,undefined, built in build/asan
## fuzz: build the libFuzzer targets with clang into build/fuzz (FUZZ_SECONDS=N to run them)
## bench: format, recorder, csv and etl benchmarks with peer ratios (bench/)
## install: bin, lib, libexec, include, pkgconfig to $(DESTDIR)$(PREFIX)
## deps: install the Debian packages the build and tests need
## clean: remove build/

PREFIX  ?= /usr/local
DESTDIR ?=
O       ?= build
SHARED  ?= $(abspath ../shared)
Q        = $(if $(filter 1,$(V)),,@)
CC      ?= cc
CFLAGS  ?= -O2 -g
SAN     ?=
WARN     = -Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes \
           -Wformat=2 -Wvla -Wno-format-nonliteral
DEPS     = libzstd libxxhash
CONVDEPS = libzip libfwnt zlib jansson babeltrace2
PKG_CFLAGS := $(shell pkg-config --cflags $(DEPS) $(CONVDEPS) 2>/dev/null)
PKG_LIBS   := $(shell pkg-config --libs $(DEPS) 2>/dev/null || echo -lzstd -lxxhash)
CONV_LIBS  := $(shell pkg-config --libs $(CONVDEPS) 2>/dev/null || echo -lzip -lfwnt -lz -ljansson -lbabeltrace2)

VERSION := $(shell sed -n 's/^\#define HT_VERSION_STRING "\(.*\)"/\1/p' format/heaptape.h)
# Before 1.0 a minor version may change the ABI (0.2: struct ht_event
# grew): the soname carries it.
SONAME  := libheaptape.so.$(word 1,$(subst ., ,$(VERSION))).$(word 2,$(subst ., ,$(VERSION)))

BASE_CFLAGS = -std=gnu11 $(WARN) -D_GNU_SOURCE -Iformat $(PKG_CFLAGS) \
              -fvisibility=hidden -MMD -MP
ALL_CFLAGS  = $(BASE_CFLAGS) $(CFLAGS) $(SAN)
# The preload library and the replay worker run inside other programs or
# under other allocators: never sanitized, always PIC.
PIC_CFLAGS  = $(BASE_CFLAGS) $(CFLAGS) -fPIC -ftls-model=initial-exec

FORMAT_SRC  := $(wildcard format/*.c)
CMD_SRC     := $(wildcard convert/*.c replay/*.c) $(wildcard record/cmd_*.c)
WORKER_SRC  := $(wildcard replay/worker/*.c)
PRELOAD_SRC := $(filter-out $(wildcard record/cmd_*.c),$(wildcard record/*.c))
UNIT_SRC    := $(wildcard tests/unit/test_*.c)
TOOL_SRC    := $(wildcard tests/tools/*.c)
PROG_SRC    := $(filter-out tests/progs/lib%.c,$(wildcard tests/progs/*.c))
FUZZ_SRC    := $(wildcard tests/fuzz/fuzz_*.c)
BENCH_SRC   := $(wildcard bench/*.c)

FORMAT_OBJ  := $(FORMAT_SRC:%.c=$(O)/%.o)
FORMAT_PIC  := $(FORMAT_SRC:%.c=$(O)/pic/%.o)
CMD_OBJ     := $(CMD_SRC:%.c=$(O)/%.o)
PRELOAD_OBJ := $(PRELOAD_SRC:%.c=$(O)/pic/%.o)
WORKER_OBJ  := $(WORKER_SRC:%.c=$(O)/pic/%.o)

LIB         := $(O)/libheaptape.a
SOLIB       := $(O)/libheaptape.so
PICLIB      := $(O)/pic/libheaptape.a
CMDLIB      := $(O)/libheaptape-cmd.a
BIN         := $(O)/heaptape
PRELOAD     := $(O)/libheaptape-record.so
WORKER      := $(if $(WORKER_SRC),$(O)/heaptape-replay-worker)
UNITS       := $(UNIT_SRC:tests/unit/%.c=$(O)/tests/%)
TOOLS       := $(TOOL_SRC:tests/tools/%.c=$(O)/tests/%)
PROGS       := $(PROG_SRC:tests/progs/%.c=$(O)/tests/progs/%) \
               $(O)/tests/progs/libdtor.so
FUZZ_REPLAY := $(FUZZ_SRC:tests/fuzz/%.c=$(O)/tests/%)
BENCHES     := $(BENCH_SRC:bench/%.c=$(O)/bench/%)

LIBS        = $(PKG_LIBS) -lpthread -lm
CMD_LIBS    = $(CONV_LIBS) $(PKG_LIBS) -ldl -lpthread -lm
EXPORTS     = $(wildcard record/exports.map)

.PHONY: all check demo asan fuzz bench install deps clean help tests
.DEFAULT_GOAL := all

all: $(BIN) $(LIB) $(SOLIB) $(PRELOAD) $(WORKER) $(O)/heaptape.pc

$(O)/%.o: %.c
	@mkdir -p $(@D)
	$(Q)$(CC) $(ALL_CFLAGS) -c -o $@ $<

$(O)/pic/%.o: %.c
	@mkdir -p $(@D)
	$(Q)$(CC) $(PIC_CFLAGS) -c -o $@ $<

$(LIB): $(FORMAT_OBJ)
	$(Q)rm -f $@ && ar rcs $@ $^

$(PICLIB): $(FORMAT_PIC)
	$(Q)rm -f $@ && ar rcs $@ $^

$(SOLIB): $(FORMAT_PIC)
	$(Q)$(CC) -shared -o $@ -Wl,-soname,$(SONAME) $^ $(PKG_LIBS) -lpthread

$(CMDLIB): $(CMD_OBJ)
	$(Q)rm -f $@ && ar rcs $@ $^

$(BIN): $(O)/heaptape.o $(CMDLIB) $(LIB)
	$(Q)$(CC) $(CFLAGS) $(SAN) $(LDFLAGS) -o $@ $^ $(CMD_LIBS)

# The preload library takes zstd and xxHash in from their static archives
# where they exist: two libraries fewer for every traced process to load
# (~0.1 ms a process start).
PRELOAD_LIBS = $(foreach l,zstd xxhash,$(if $(filter /%,$(shell \
	$(CC) -print-file-name=lib$(l).a)),-l:lib$(l).a,-l$(l)))

$(PRELOAD): $(PRELOAD_OBJ) $(PICLIB) $(EXPORTS)
	$(Q)$(CC) -shared $(CFLAGS) $(LDFLAGS) -o $@ $(PRELOAD_OBJ) $(PICLIB) \
	  $(if $(EXPORTS),-Wl$(,)--version-script=$(EXPORTS)) \
	  -Wl,-z,nodelete $(PRELOAD_LIBS) -ldl -lpthread -lm

$(O)/heaptape-replay-worker: $(WORKER_OBJ) $(PICLIB)
	$(Q)$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^ $(PKG_LIBS) -ldl -lpthread -lm

$(O)/heaptape.pc: format/heaptape.pc.in format/heaptape.h
	@mkdir -p $(@D)
	$(Q)sed -e 's|@PREFIX@|$(PREFIX)|' -e 's|@VERSION@|$(VERSION)|' $< > $@

$(O)/tests/%: tests/unit/%.c $(CMDLIB) $(LIB)
	@mkdir -p $(@D)
	$(Q)$(CC) $(ALL_CFLAGS) $(LDFLAGS) -Itests -o $@ $^ $(CMD_LIBS)

$(O)/tests/%: tests/tools/%.c $(CMDLIB) $(LIB)
	@mkdir -p $(@D)
	$(Q)$(CC) $(ALL_CFLAGS) $(LDFLAGS) -Itests -o $@ $^ $(CMD_LIBS)

# Programs the recorder tests run: plain C, no heaptape code in them.
$(O)/tests/progs/%: tests/progs/%.c
	@mkdir -p $(@D)
	$(Q)$(CC) -O1 -g -std=gnu11 -D_GNU_SOURCE -Wall -o $@ $< -pthread -ldl
# (dtorlib: linked with libdtor.so, a library whose destructor allocates)
$(O)/tests/progs/libdtor.so: tests/progs/libdtor.c
	@mkdir -p $(@D)
	$(Q)$(CC) -O1 -g -std=gnu11 -Wall -shared -fPIC -o $@ $<
$(O)/tests/progs/dtorlib: tests/progs/dtorlib.c $(O)/tests/progs/libdtor.so
	@mkdir -p $(@D)
	$(Q)$(CC) -O1 -g -std=gnu11 -Wall -o $@ $< -L$(O)/tests/progs -ldtor \
	  -Wl,-rpath,'$$ORIGIN'
# (mallocptr: not PIE, so that malloc's address is a PLT entry of its own)
$(O)/tests/progs/mallocptr: tests/progs/mallocptr.c
	@mkdir -p $(@D)
	$(Q)$(CC) -O1 -g -std=gnu11 -D_GNU_SOURCE -Wall -no-pie -fno-pie -o $@ $<

# Fuzz targets replayed over their corpora by `make check` (gcc driver).
$(O)/tests/fuzz_%: tests/fuzz/fuzz_%.c tests/fuzz/driver.c $(CMDLIB) $(LIB)
	@mkdir -p $(@D)
	$(Q)$(CC) $(ALL_CFLAGS) $(LDFLAGS) -o $@ $^ $(CMD_LIBS)

$(O)/bench/%: bench/%.c $(CMDLIB) $(LIB)
	@mkdir -p $(@D)
	$(Q)$(CC) $(ALL_CFLAGS) $(LDFLAGS) -o $@ $^ $(CMD_LIBS)

, := ,

tests: all $(UNITS) $(TOOLS) $(PROGS) $(FUZZ_REPLAY)

deps:
	$(Q)sh tests/deps.sh check

check: deps
	$(Q)$(MAKE) --no-print-directory tests
	$(Q)O=$(O) SHARED=$(SHARED) sh tests/run.sh

asan:
	$(Q)$(MAKE) --no-print-directory O=build/asan CFLAGS="-O1 -g -fno-omit-frame-pointer" \
	  SAN="-fsanitize=address,undefined -fno-sanitize-recover=undefined" check

FUZZ_SECONDS ?= 0
fuzz:
	$(Q)sh tests/deps.sh fuzz
	$(Q)$(MAKE) --no-print-directory O=build/fuzz CC=clang CFLAGS="-O1 -g" \
	  SAN="-fsanitize=fuzzer-no-link,address,undefined" build/fuzz/libheaptape.a build/fuzz/libheaptape-cmd.a
	$(Q)for f in $(FUZZ_SRC); do n=$$(basename $$f .c); \
	  clang -O1 -g -std=gnu11 -D_GNU_SOURCE -Iformat $(PKG_CFLAGS) \
	    -fsanitize=fuzzer,address,undefined -o build/fuzz/$$n $$f \
	    build/fuzz/libheaptape-cmd.a build/fuzz/libheaptape.a $(CMD_LIBS) || exit 1; \
	  echo "built build/fuzz/$$n"; \
	  if [ "$(FUZZ_SECONDS)" != 0 ]; then mkdir -p build/fuzz/corpus-$$n; \
	    build/fuzz/$$n -max_total_time=$(FUZZ_SECONDS) -print_final_stats=1 \
	      build/fuzz/corpus-$$n tests/fuzz/corpus/$$n || exit 1; fi; \
	done

bench: deps
	$(Q)sh tests/deps.sh bench
	$(Q)$(MAKE) --no-print-directory all $(BENCHES) $(PROGS)
	$(Q)O=$(O) SHARED=$(SHARED) sh bench/run.sh

demo: deps
	$(Q)$(MAKE) --no-print-directory all
	$(Q)O=$(O) SHARED=$(SHARED) sh tests/demo.sh

install: all
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/lib/heaptape \
	  $(DESTDIR)$(PREFIX)/include $(DESTDIR)$(PREFIX)/lib/pkgconfig
	install -m 755 $(BIN) $(DESTDIR)$(PREFIX)/bin/heaptape
	install -m 644 $(LIB) $(DESTDIR)$(PREFIX)/lib/libheaptape.a
	install -m 755 $(SOLIB) $(DESTDIR)$(PREFIX)/lib/$(SONAME)
	ln -sf $(SONAME) $(DESTDIR)$(PREFIX)/lib/libheaptape.so
	install -m 755 $(PRELOAD) $(DESTDIR)$(PREFIX)/lib/heaptape/libheaptape-record.so
	$(if $(WORKER),install -m 755 $(WORKER) $(DESTDIR)$(PREFIX)/lib/heaptape/heaptape-replay-worker)
	install -m 644 format/heaptape.h $(DESTDIR)$(PREFIX)/include/heaptape.h
	sed -e 's|@PREFIX@|$(PREFIX)|' -e 's|@VERSION@|$(VERSION)|' \
	  format/heaptape.pc.in > $(DESTDIR)$(PREFIX)/lib/pkgconfig/heaptape.pc

clean:
	rm -rf build

help:
	@sed -n 's/^## //p' $(MAKEFILE_LIST)
	@echo "variables: O=build PREFIX=$(PREFIX) DESTDIR= CC= CFLAGS= V=1 SHARED=../shared"

-include $(shell find $(O) -name '*.d' 2>/dev/null)
