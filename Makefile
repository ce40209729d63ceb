# ledgerbox: plain Makefile. `make run` and `make test` install what is
# missing first (scripts/deps), so both work on a fresh Debian 12 machine.

CC      ?= cc
BUILD   ?= build
PKGS     = libseccomp sqlite3 jansson libsodium libmicrohttpd libcurl libpq
WARN     = -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wmissing-prototypes \
           -Wformat=2 -Wno-format-nonliteral -Wvla
HARDEN   = -D_FORTIFY_SOURCE=2 -fstack-protector-strong -fPIE
CFLAGS  ?= -O2 -g
ALL_CFLAGS = -std=gnu11 -D_GNU_SOURCE= $(WARN) $(HARDEN) $(CFLAGS) -Isrc -MMD -MP \
           $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
LDFLAGS ?=
ALL_LDFLAGS = -pie -Wl,-z,relro,-z,now $(LDFLAGS)
LIBS     = $(shell pkg-config --libs $(PKGS) 2>/dev/null) -lpthread -lm

SRC      = $(shell find src -name '*.c' ! -name main.c ! -name server_main.c | sort)
OBJ      = $(SRC:%.c=$(BUILD)/%.o) $(BUILD)/src/runners/driver_blob.o $(BUILD)/src/http/web_blob.o
MAIN_OBJ = $(BUILD)/src/main.o
BIN      = $(BUILD)/ledgerbox
# The command line without the HTTP server's parts, and the server apart.
CLI_OBJ  = $(filter-out $(BUILD)/src/http/% $(BUILD)/src/cli/serve_cmd.o $(BUILD)/src/runs/% \
           $(BUILD)/src/llm/% $(BUILD)/src/resilience/% $(BUILD)/src/analysis/% \
           $(BUILD)/src/obs/trace%,$(OBJ))
CLI_LIBS = $(shell pkg-config --libs libseccomp sqlite3 jansson libsodium libpq libcurl 2>/dev/null) -lpthread -lm
SERVER   = $(BUILD)/ledgerbox-server
# The SQL runner the sandbox executes: its own small program, so a query
# does not load the server's libraries.
RUNNER   = $(BUILD)/ledgerbox-sql-runner
RUNNER_OBJ = $(BUILD)/src/runners/main.o \
           $(patsubst %.c,$(BUILD)/%.o,$(wildcard src/runners/sql_*.c src/util/*.c))

TEST_SRC = $(shell find tests -name 'test_*.c' | sort)
TEST_BIN = $(TEST_SRC:tests/%.c=$(BUILD)/tests/%) $(BUILD)/tests/web/test_page

DEMO_DIR ?= $(BUILD)/demo

.PHONY: all deps run test check-tools unit security asan bench clean demo lint

all: $(BIN) $(RUNNER) $(SERVER)

deps:
	@scripts/deps build

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -c $< -o $@

# The Python driver is embedded in the binary so the sandbox never reads a
# host path to find it.
$(BUILD)/src/runners/driver_blob.o: src/runners/driver_blob.S src/runners/python_driver.py
	@mkdir -p $(dir $@)
	$(CC) -c -Isrc/runners $< -o $@

# The page (web/) is embedded the same way, so the server needs no install
# folder and serves nothing it was not built with.
$(BUILD)/src/http/web_blob.o: src/http/web_blob.S $(wildcard web/*)
	@mkdir -p $(dir $@)
	$(CC) -c -Iweb $< -o $@

$(BIN): $(CLI_OBJ) $(MAIN_OBJ)
	$(CC) $(ALL_CFLAGS) $(ALL_LDFLAGS) -o $@ $^ $(CLI_LIBS)

$(SERVER): $(OBJ) $(BUILD)/src/server_main.o
	$(CC) $(ALL_CFLAGS) $(ALL_LDFLAGS) -o $@ $^ $(LIBS)

$(RUNNER): $(RUNNER_OBJ)
	$(CC) $(ALL_CFLAGS) $(ALL_LDFLAGS) -o $@ $^ $(shell pkg-config --libs sqlite3 jansson libpq)

# The page's browser tests (node + playwright-core + chromium) run as one
# test program of tests/run.
$(BUILD)/tests/web/test_page: tests/web/test_page.sh
	@mkdir -p $(dir $@)
	cp $< $@

$(BUILD)/tests/%: tests/%.c tests/testlib.h $(OBJ)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -Itests $(ALL_LDFLAGS) -o $@ $< $(OBJ) $(LIBS) -lcmocka

demo: $(BIN)
	@[ -f $(DEMO_DIR)/ledger.sqlite ] || $(BIN) demo-data $(DEMO_DIR)

run:
	@scripts/deps build
	@$(MAKE) --no-print-directory all
	LEDGERBOX_STATE_DIR=$${LEDGERBOX_STATE_DIR:-$(CURDIR)/state} \
	LEDGERBOX_DATA_DIR=$${LEDGERBOX_DATA_DIR:-$(CURDIR)/data} \
	$(BIN) serve --bootstrap

test:
	@scripts/deps all
	@$(MAKE) --no-print-directory all demo $(TEST_BIN)
	@BUILD=$(BUILD) tests/run
	@$(MAKE) --no-print-directory fuzz-smoke

asan:
	@scripts/deps all
	@$(MAKE) --no-print-directory BUILD=build-asan CC=clang \
		CFLAGS="-O1 -g -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer" \
		LDFLAGS="-fsanitize=address,undefined" all demo \
		$(TEST_SRC:tests/%.c=build-asan/tests/%) build-asan/tests/web/test_page
	@BUILD=build-asan ASAN_OPTIONS=detect_leaks=1 tests/run

$(BUILD)/bench/%: bench/%.c $(OBJ)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) $(ALL_LDFLAGS) -o $@ $< $(OBJ) $(LIBS)

bench: all demo $(BUILD)/bench/budget_ops $(BUILD)/bench/cache_lookup
	@scripts/deps all
	@bench/sandbox_overhead
	@bench/api_throughput
	@BUILD=$(BUILD) bench/analyze_latency
	@BUILD=$(BUILD) bench/multinode_throughput
	@BUILD=$(BUILD) bench/overload_latency
	@$(BUILD)/bench/budget_ops
	@$(BUILD)/bench/cache_lookup

lint:
	cppcheck --quiet --error-exitcode=1 --enable=warning,performance,portability \
		--inline-suppr --std=c11 -Isrc -Itests src tests fuzz

clean:
	rm -rf build build-asan build-fuzz

-include $(TEST_BIN:=.d) $(OBJ:.o=.d) $(MAIN_OBJ:.o=.d) $(BUILD)/src/runners/main.d $(BUILD)/src/server_main.d
-include fuzz.mk
-include install.mk
