# cojam - top-level targets. The server's own build lives in server/Makefile; outputs go to build/.
#   make            build build/cojamd (release flavour)
#   make run        install missing Debian packages, build, run cojamd (it starts its own Redis)
#   make test       install what the tests need, build, run every test; ends "N passed, N failed"
#                   (a set-up step that fails counts as a failed test there, with what to fix)
#   make screenshots  refresh the page screenshots the READMEs show (tests write theirs to build/)
#   make asan       the same tests against an ASan+UBSan build
#   make tsan       unit + e2e tests against a ThreadSanitizer build (loop, store, replay threads)
#   make bench      benchmarks (ranking micro-benchmark, load tests); never part of make test
#   make multi-bench  one jam on several cojamd processes: CPU per applied event, cross-process
#                   vote-to-screen, 1/2/3 processes, Redis stream rates (load-tests/multi-bench.sh)
#   make fuzz       libFuzzer targets for FUZZ_SECONDS each (clang-14)
#   make lint       include confinement, cppcheck, format-check, clang-tidy (.clang-tidy)
#   make format     apply .clang-format;  make format-check / make tidy run one part of lint

FUZZ_SECONDS ?= 60
ARGS ?=

.PHONY: all build run test asan tsan unit bench multi-bench peer-bench fuzz lint tidy format format-check clean deps test-deps faults-long screenshots
all: build

deps:
	@bash deploy/install-deps.sh build
test-deps:
	@bash deploy/install-deps.sh test
	@bash deploy/install-deps.sh npm

build:
	@$(MAKE) --no-print-directory -C server FLAVOUR=release all
	@cp build/release/cojamd build/cojamd

run: deps build
	./build/cojamd $(ARGS)

# run-all.sh --setup installs the packages and node modules and builds, each a counted step, so a
# failed set-up still ends in the "N passed, N failed" line instead of stopping make.
test:
	@bash server/tests/run-all.sh --setup build/debug

# Test runs write every page's screenshot to build/screenshots/; this copies the ones README.md and
# web-client/README.md show into web-client/tests/screenshots/, the only ones committed.
screenshots: test-deps
	@$(MAKE) --no-print-directory -s -C server FLAVOUR=debug all
	@rm -rf build/screenshots
	@cd web-client/tests && node browser.test.mjs && node console.test.mjs && node results.test.mjs && node merge.test.mjs
	@for f in $$(grep -oh 'tests/screenshots/[a-z-]*\.png' README.md web-client/README.md | sort -u); do \
	  cp build/screenshots/$${f##*/} web-client/tests/screenshots/ && echo "refreshed web-client/$$f"; done

unit:
	@$(MAKE) --no-print-directory -s -C server FLAVOUR=debug all unit-bins
	@ONLY=unit bash server/tests/run-all.sh build/debug

asan:
	@ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 bash server/tests/run-all.sh --setup build/asan

# ThreadSanitizer over the layers that run the loop, store and replay threads: unit tests and the
# e2e suite against build/tsan/cojamd. Reports go to build/tsan/reports/ (any report fails the
# target, even from a process whose test passed). setarch -R: gcc 12's TSan aborts with
# "unexpected memory mapping" on kernels with vm.mmap_rnd_bits > 28; without ASLR it runs anywhere.
TSAN_REPORTS = $(CURDIR)/build/tsan/reports
tsan: test-deps
	@$(MAKE) --no-print-directory -s -C server FLAVOUR=tsan all unit-bins
	@rm -rf $(TSAN_REPORTS); mkdir -p $(TSAN_REPORTS); \
	export TSAN_OPTIONS="halt_on_error=1 second_deadlock_stack=1 log_path=$(TSAN_REPORTS)/tsan"; \
	fail=0; for layer in unit e2e; do \
	  ONLY=$$layer setarch $$(uname -m) -R bash server/tests/run-all.sh build/tsan || fail=1; done; \
	for r in $(TSAN_REPORTS)/tsan.*; do [ -f "$$r" ] || continue; cat "$$r"; fail=1; done; \
	[ $$fail = 0 ] && echo "tsan: no reports" || echo "tsan: FAILED (reports in $(TSAN_REPORTS))"; exit $$fail

bench: deps
	@$(MAKE) --no-print-directory -s -C server FLAVOUR=release bench-bins
	@for b in build/release/bench/bench_*; do echo "== $$b"; $$b; done
	@$(MAKE) --no-print-directory -s -C load-tests all && echo "== build/fairsim" && build/fairsim 10
	@bash load-tests/replay-bench.sh
	@if [ -f load-tests/bench.sh ]; then bash load-tests/bench.sh; fi

# The jam-vote cells with the Node peers (load-tests/peers: ws, socket.io) right after cojam's in each
# cell; needs node and npm's registry once (npm ci), never part of `make test`.
peer-bench: deps
	@BENCH_PEERS="$${BENCH_PEERS:-ws socketio ws-tick50}" BENCH_CELLS="$${BENCH_CELLS:-1000x10 1000x100 1000x1000 5000x5 5000x10 5000x20 5000x1000}" \
	  BENCH_JOIN_STORM=0 BENCH_OUT="$${BENCH_OUT:-load-tests/results/peers}" bash load-tests/bench.sh

multi-bench: deps
	@bash load-tests/multi-bench.sh

# The long fault-injection profile (the default test run has a short one), against an external
# Redis and against the embedded default, FAULT_CYCLES cojamd kills each.
FAULT_CYCLES ?= 50
faults-long: test-deps
	@$(MAKE) --no-print-directory -s -C server FLAVOUR=debug all
	@E2E_FILE_TIMEOUT=$$(( 60 + 4 * $(FAULT_CYCLES) )) FAULT_CYCLES=$(FAULT_CYCLES) COJAMD=$(CURDIR)/build/debug/cojamd bash server/tests/e2e/run.sh 70-faults.py 71-faults-embedded.py

# New inputs go to build/fuzz/new-<target>, crash/leak/timeout artifacts to build/fuzz/<target>-*;
# the committed corpus is only read (copy a finding there by hand, with a name that says what it is).
fuzz:
	@bash deploy/install-deps.sh fuzz
	@$(MAKE) --no-print-directory -C server fuzz-bins
	@for t in build/fuzz/fuzz_*; do n=$${t##*/fuzz_}; mkdir -p build/fuzz/new-$$n; \
	  echo "== $$n for $(FUZZ_SECONDS) s"; a=-artifact_prefix=build/fuzz/$$n-; \
	  $$t $$a -max_total_time=$(FUZZ_SECONDS) -dict=server/tests/fuzz/$$n.dict build/fuzz/new-$$n server/tests/fuzz/corpus/$$n 2>&1 | tail -3 \
	  || $$t $$a -max_total_time=$(FUZZ_SECONDS) build/fuzz/new-$$n server/tests/fuzz/corpus/$$n 2>&1 | tail -3; done

# lint: each third-party library is included by exactly one module (STYLE.md 2.2), cppcheck,
# format-check, tidy. Every part runs even when an earlier one fails; lint fails if any did.
lint:
	@fail=0; \
	for pair in libwebsockets.h:net.c hiredis:store.c openssl:auth.c jansson.h:codec.c,view.c; do \
	  hdr=$${pair%%:*}; allowed=$${pair#*:}; \
	  for f in $$(grep -l "#include <$$hdr" server/src/*.c server/src/*.h 2>/dev/null); do \
	    case ",$$allowed," in *,$${f##*/},*) ;; *) echo "lint: $$f includes $$hdr"; fail=1;; esac; done; done; \
	cppcheck --quiet --error-exitcode=1 --enable=warning,performance,portability --inline-suppr \
	  -D_GNU_SOURCE -DCOJAM_VERSION=\"lint\" -I server/src server/src || fail=1; \
	$(MAKE) --no-print-directory -s format-check || fail=1; \
	$(MAKE) --no-print-directory -s tidy || fail=1; \
	exit $$fail

# clang-tidy over server/src with the checks in .clang-tidy and the flags the server builds with;
# two files at a time (a few seconds in all). "N warnings generated" counts system headers' warnings,
# which clang-tidy does not show: that line is dropped.
TIDY_FLAGS = -std=c11 -D_GNU_SOURCE -DCOJAM_VERSION=\"lint\" -Iserver/src
tidy:
	@ls server/src/*.c | xargs -P2 -n4 sh -c 'out=$$(clang-tidy --quiet "$$@" -- $(TIDY_FLAGS) 2>&1); rc=$$?; \
	  printf "%s\n" "$$out" | grep -v -e "warnings\? generated\.$$" -e "^$$"; exit $$rc' tidy

# The C files under .clang-format (load-tests/loadgen/.clang-format overrides a few keys there).
# format and format-check take the same list, so `make format` makes `make format-check` pass.
FORMAT_FILES = $(sort $(wildcard server/src/*.[ch] server/tests/*.h server/tests/*/*.[ch] load-tests/loadgen/*.[ch] load-tests/fairsim/*.c load-tests/fanprobe/*.c))
format:
	@clang-format -i $(FORMAT_FILES)
format-check:
	@clang-format --dry-run -Werror $(FORMAT_FILES)

clean:
	rm -rf build
