# fuzz.mk: the libFuzzer harnesses of fuzz/ (docs/fuzzing.md), included by
# the Makefile, so its SRC, OBJ, ALL_CFLAGS and LIBS are the ones used here.
#
#   make fuzz                      every harness for FUZZ_SECONDS (60) each
#   make fuzz FUZZ_SECONDS=600     longer
#   make fuzz FUZZ_ONLY=sse        one harness (or several: "sse ndjson")
#   make fuzz-smoke                8 seconds each, meant for make test
#
# Every object of src/ is compiled again by clang into build-fuzz/ with
# coverage (-fsanitize=fuzzer-no-link) and AddressSanitizer plus
# UndefinedBehaviorSanitizer, by a second make with BUILD=build-fuzz, so
# the main build's objects are never mixed in. Each harness links all of
# them with libFuzzer's main. fuzz/run replays fuzz/regressions/NAME/,
# then fuzzes from fuzz/corpus/NAME/ (read only) into a fresh temporary
# corpus, keeping crash, leak and timeout inputs in build-fuzz/artifacts/.

FUZZ_BUILD   = build-fuzz
FUZZ_SECONDS ?= 60
FUZZ_ALL     = $(patsubst fuzz/fuzz_%.c,%,$(wildcard fuzz/fuzz_*.c))
FUZZ_ONLY    ?=
FUZZ_NAMES   = $(or $(strip $(FUZZ_ONLY)),$(FUZZ_ALL))
FUZZ_SAN     = -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer

.PHONY: fuzz fuzz-smoke fuzz-build

fuzz: fuzz-build
	@fuzz/run $(FUZZ_BUILD) $(FUZZ_SECONDS) $(FUZZ_NAMES)

fuzz-smoke:
	@$(MAKE) --no-print-directory fuzz FUZZ_SECONDS=8

fuzz-build:
	@command -v clang >/dev/null || { echo "make fuzz needs clang (scripts/deps all)"; exit 1; }
	@$(MAKE) --no-print-directory BUILD=$(FUZZ_BUILD) CC=clang \
		CFLAGS="-O1 -g $(FUZZ_SAN) -fsanitize=fuzzer-no-link" LDFLAGS="$(FUZZ_SAN)" \
		$(FUZZ_NAMES:%=$(FUZZ_BUILD)/fuzz/fuzz_%)

# Only meaningful in the make above (BUILD=build-fuzz, CC=clang).
$(BUILD)/fuzz/fuzz_%: fuzz/fuzz_%.c fuzz/fuzz.h $(OBJ)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -fsanitize=fuzzer $(ALL_LDFLAGS) -o $@ $< $(OBJ) $(LIBS)

-include $(wildcard $(BUILD)/fuzz/*.d)
