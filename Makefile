# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
# sockhop: BPF objects (kern/) are embedded in sockhopd through bpftool
# skeletons; everything generated goes under build/. `make help` lists targets.

# SANITIZE=address,undefined builds everything user-space with those
# sanitizers (halting on the first report) in its own tree, so a plain and a
# sanitized build never share objects; `make test SANITIZE=...` runs the whole
# suite on it and counts every report as a failure (tests/run.sh).
SANITIZE ?=
ifneq ($(SANITIZE),)
BUILD    ?= build/sanitize
else
BUILD    ?= build
endif
PREFIX   ?= /usr/local
MANDIR   ?= $(PREFIX)/share/man
DESTDIR  ?=
CONFIG   ?= proxy/sockhop.yaml
CLANG    ?= clang
BPFTOOL  ?= bpftool
CC       ?= cc
ARCH     := $(shell uname -m | sed -e 's/x86_64/x86/' -e 's/aarch64/arm64/')
VERSION  := 0.1.0

# Packages each step needs on Debian 12; `make deps-*` installs the missing ones.
PKGS_BUILD := make gcc clang llvm pkg-config libbpf-dev libelf-dev zlib1g-dev \
              libev-dev libyaml-dev bpftool iproute2
PKGS_TEST  := $(PKGS_BUILD) libcmocka-dev procps jq bc util-linux python3 curl man-db groff-base valgrind
PKGS_BENCH := $(PKGS_BUILD) util-linux jq haproxy nginx-light libnginx-mod-stream python3 \
              iperf3 sockperf wrk

ifeq ($(V),1)
Q :=
msg =
else
Q := @
msg = @printf '  %-8s %s\n' "$(1)" "$(2)";
endif

CFLAGS   ?= -O2 -g
CFLAGS   += -std=gnu11 -D_GNU_SOURCE -Wall -Wextra -Werror -Wshadow -Wno-format-truncation \
            -DSOCKHOP_VERSION='"$(VERSION)"'
ifneq ($(SANITIZE),)
CFLAGS   += -fsanitize=$(SANITIZE) -fno-sanitize-recover=all -fno-omit-frame-pointer
endif
# One folder a layer or a binary (README.md, "Layout"); each folder's headers
# are included by name.
PROXY_DIRS := proxy/common proxy/config proxy/bpf proxy/daemon proxy/cli
CPPFLAGS += -Ikern -Icgroup $(addprefix -I,$(PROXY_DIRS)) -I$(BUILD)/kern
LIBBPF_LIBS := $(shell pkg-config --libs libbpf 2>/dev/null || echo -lbpf -lelf -lz)
DAEMON_LIBS := $(LIBBPF_LIBS) -lev -lyaml
CLI_LIBS    := $(LIBBPF_LIBS)

# Debian keeps asm/types.h under the multiarch include dir; clang -target bpf
# does not look there unless told (the libbpf-bootstrap idiom).
CLANG_BPF_SYS_INCLUDES := $(shell $(CLANG) -v -E - </dev/null 2>&1 | \
	sed -n '/<...> search starts here:/,/End of search list./{ s| \(/.*\)|-idirafter \1|p }')
BPF_CFLAGS := -g -O2 -target bpf -D__TARGET_ARCH_$(ARCH) -Wall -Wextra -Werror \
              -Ikern $(CLANG_BPF_SYS_INCLUDES)

BPF_OBJS   := accel balance splice policy
SKELS      := $(patsubst %,$(BUILD)/kern/%.skel.h,$(BPF_OBJS))

COMMON_SRCS := proxy/common/log.c proxy/common/pins.c proxy/common/addr.c proxy/common/maps.c \
               proxy/common/emit.c \
               cgroup/cgroup.c
CONFIG_SRCS := proxy/config/config.c proxy/config/yaml.c proxy/config/scopes.c \
               proxy/config/services.c proxy/config/rules.c proxy/config/reload.c \
               proxy/config/lint.c
BPF_SRCS    := proxy/bpf/loader.c proxy/bpf/pindir.c proxy/bpf/links.c proxy/bpf/scopes.c \
               proxy/bpf/accel.c proxy/bpf/policy.c proxy/bpf/splice.c proxy/bpf/balance.c \
               proxy/bpf/canary.c proxy/bpf/scope_dirs.c proxy/bpf/sockdiag.c \
               proxy/bpf/aborts.c
DAEMON_SRCS := $(COMMON_SRCS) proxy/common/maglev.c proxy/common/members.c $(CONFIG_SRCS) \
               $(BPF_SRCS) \
               proxy/daemon/main.c proxy/daemon/probe.c proxy/daemon/service.c \
               proxy/daemon/health.c proxy/daemon/conn.c proxy/daemon/connect.c proxy/daemon/lb.c proxy/daemon/control.c \
               proxy/daemon/request.c proxy/daemon/report.c proxy/daemon/cpuidle.c
CLI_SRCS    := $(COMMON_SRCS) proxy/config/rules.c proxy/cli/main.c proxy/cli/status.c \
               proxy/cli/policy.c proxy/cli/tc.c proxy/cli/daemon.c \
               proxy/cli/sockets.c
DAEMON_OBJS := $(patsubst %.c,$(BUILD)/%.o,$(DAEMON_SRCS))
CLI_OBJS    := $(patsubst %.c,$(BUILD)/%.o,$(CLI_SRCS))

UNIT_TESTS  := test_config test_rules test_key test_cgroup test_lb test_emit
UNIT_BINS   := $(patsubst %,$(BUILD)/tests/%,$(UNIT_TESTS))
# libFuzzer harnesses (tests/fuzz/): FUZZ_SECONDS each in make fuzz
FUZZ_SECONDS ?= 60
SOAK_SECONDS ?= 600
FUZZERS      := config rules request
FUZZ_BINS    := $(patsubst %,$(BUILD)/fuzz/fuzz_%,$(FUZZERS))
TOOLS       := $(BUILD)/tests/shtraffic $(BUILD)/tests/shload $(BUILD)/tests/shtc

.DELETE_ON_ERROR:
.SECONDARY:
.PHONY: all run test bench install clean help deps-build deps-test deps-bench \
        unit integration fuzz fuzz-build soak

all: $(BUILD)/sockhopd $(BUILD)/sockhop

help:
	@echo 'sockhop make targets:'
	@echo '  all (default)  build build/sockhopd and build/sockhop'
	@echo '  run            install missing packages, build, run sockhopd on $(CONFIG)'
	@echo '  test           install missing packages, build, run every test'
	@echo '  bench          install missing packages, build, run the benchmarks'
	@echo '  soak           churn, reloads and a kill -9 for SOAK_SECONDS=$(SOAK_SECONDS); figures'
	@echo '  fuzz           build the libFuzzer harnesses, run each FUZZ_SECONDS=$(FUZZ_SECONDS)'
	@echo '  install        install binaries, man pages and the example config (PREFIX=$(PREFIX), DESTDIR=)'
	@echo '  clean          remove $(BUILD)/'
	@echo 'Variables: V=1 shows commands; CONFIG=FILE for run; TESTS="name ..." for test;'
	@echo '  SANITIZE=address,undefined builds (in build/sanitize) and tests with sanitizers.'

# Installs exactly the missing Debian packages; a no-op when all are present.
define install_missing
	@missing=""; for p in $(1); do \
		dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q '^install ok installed$$' \
			|| missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
		echo "  DEPS    installing:$$missing"; \
		if [ "$$(id -u)" != 0 ]; then echo "need root to install:$$missing" >&2; exit 1; fi; \
		DEBIAN_FRONTEND=noninteractive apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing >/dev/null; \
	fi
endef

deps-build:
	$(call install_missing,$(PKGS_BUILD))
deps-test:
	$(call install_missing,$(PKGS_TEST))
deps-bench:
	$(call install_missing,$(PKGS_BENCH))

run: deps-build
	$(MAKE) --no-print-directory all $(TOOLS)
	$(BUILD)/sockhopd -c $(CONFIG)

test: deps-test
	$(MAKE) --no-print-directory all $(UNIT_BINS) $(TOOLS) $(FUZZ_BINS)
ifneq ($(SANITIZE),)
	$(MAKE) --no-print-directory SANITIZE= BUILD=build all	# for valgrind, which cannot run ASan
endif
	@BUILD=$(BUILD) SANITIZE=$(SANITIZE) tests/run.sh $(TESTS)

bench: deps-bench
	$(MAKE) --no-print-directory all $(TOOLS)
	@BUILD=$(BUILD) tests/bench/bench.sh
	@BUILD=$(BUILD) tests/bench/proxy.sh
	@BUILD=$(BUILD) tests/bench/tc.sh

soak: deps-test
	$(MAKE) --no-print-directory all $(TOOLS)
	@BUILD=$(BUILD) SOAK_SECONDS=$(SOAK_SECONDS) tests/soak/soak.sh

fuzz: deps-test
	$(MAKE) --no-print-directory fuzz-build
	@BUILD=$(BUILD) FUZZ_SECONDS=$(FUZZ_SECONDS) tests/fuzz/run.sh

fuzz-build: $(FUZZ_BINS)

install: $(BUILD)/sockhopd $(BUILD)/sockhop
	install -d $(DESTDIR)$(PREFIX)/sbin $(DESTDIR)$(PREFIX)/bin $(DESTDIR)/etc/sockhop
	install -m 0755 $(BUILD)/sockhopd $(DESTDIR)$(PREFIX)/sbin/sockhopd
	install -m 0755 $(BUILD)/sockhop $(DESTDIR)$(PREFIX)/bin/sockhop
	install -m 0644 proxy/sockhop.yaml $(DESTDIR)/etc/sockhop/sockhop.yaml.example
	install -d $(DESTDIR)$(MANDIR)/man8 $(DESTDIR)$(MANDIR)/man5
	install -m 0644 proxy/man/sockhopd.8 proxy/man/sockhop.8 $(DESTDIR)$(MANDIR)/man8/
	install -m 0644 proxy/man/sockhop.yaml.5 $(DESTDIR)$(MANDIR)/man5/

clean:
	$(call msg,CLEAN,$(BUILD))
	$(Q)rm -rf $(BUILD)

# --- BPF objects and skeletons ---------------------------------------------
$(BUILD)/kern/%.bpf.o: kern/%.bpf.c kern/sockhop.h kern/maps.bpf.h kern/kernel_types.bpf.h \
		kern/retrans.bpf.h | $(BUILD)/kern
	$(call msg,BPF,$@)
	$(Q)$(CLANG) $(BPF_CFLAGS) -c $< -o $@

$(BUILD)/kern/%.skel.h: $(BUILD)/kern/%.bpf.o
	$(call msg,SKEL,$@)
	$(Q)$(BPFTOOL) gen skeleton $< name $*_bpf > $@

# --- user space ----------------------------------------------------------------
$(BUILD)/%.o: %.c $(SKELS) kern/sockhop.h | $(BUILD)/kern
	$(call msg,CC,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(CPPFLAGS) $(CFLAGS) -MMD -MP -c $< -o $@

$(BUILD)/sockhopd: $(DAEMON_OBJS)
	$(call msg,LINK,$@)
	$(Q)$(CC) $(CFLAGS) $^ $(DAEMON_LIBS) -o $@

$(BUILD)/sockhop: $(CLI_OBJS)
	$(call msg,LINK,$@)
	$(Q)$(CC) $(CFLAGS) $^ $(CLI_LIBS) -o $@

# --- tests -----------------------------------------------------------------------
# The unit tests' own header (cmocka_all.h) is theirs alone.
$(BUILD)/tests/unit/%.o: CPPFLAGS += -Itests/unit

CONFIG_OBJS := $(patsubst %.c,$(BUILD)/%.o,$(CONFIG_SRCS) cgroup/cgroup.c proxy/common/addr.c)

$(BUILD)/tests/test_config: $(BUILD)/tests/unit/test_config.o $(CONFIG_OBJS)
	$(call msg,LINK,$@)
	$(Q)$(CC) $(CFLAGS) $^ -lcmocka -lyaml -o $@

$(BUILD)/tests/test_rules: $(BUILD)/tests/unit/test_rules.o $(CONFIG_OBJS)
	$(call msg,LINK,$@)
	$(Q)$(CC) $(CFLAGS) $^ -lcmocka -lyaml -o $@

$(BUILD)/tests/test_key: $(BUILD)/tests/unit/test_key.o
	$(call msg,LINK,$@)
	$(Q)$(CC) $(CFLAGS) $^ -lcmocka -o $@

$(BUILD)/tests/test_emit: $(BUILD)/tests/unit/test_emit.o $(BUILD)/proxy/common/emit.o
	$(call msg,LINK,$@)
	$(Q)$(CC) $(CFLAGS) $^ -lcmocka -o $@

$(BUILD)/tests/test_cgroup: $(BUILD)/tests/unit/test_cgroup.o $(BUILD)/cgroup/cgroup.o
	$(call msg,LINK,$@)
	$(Q)$(CC) $(CFLAGS) $^ -lcmocka -o $@

$(BUILD)/tests/test_lb: $(BUILD)/tests/unit/test_lb.o $(BUILD)/proxy/daemon/lb.o $(BUILD)/proxy/common/maglev.o \
		       $(BUILD)/proxy/common/members.o $(BUILD)/proxy/common/addr.o
	$(call msg,LINK,$@)
	$(Q)$(CC) $(CFLAGS) $^ -lcmocka -o $@

$(BUILD)/tests/shtraffic: $(BUILD)/tests/tools/shtraffic.o
	$(call msg,LINK,$@)
	$(Q)$(CC) $(CFLAGS) $^ -lpthread -lm -o $@

$(BUILD)/tests/shload: $(BUILD)/tests/tools/shload.o
	$(call msg,LINK,$@)
	$(Q)$(CC) $(CFLAGS) $^ -lpthread -o $@

$(BUILD)/tests/shtc: $(BUILD)/tests/tools/shtc.o
	$(call msg,LINK,$@)
	$(Q)$(CC) $(CFLAGS) $^ $(LIBBPF_LIBS) -o $@

# --- fuzzing -------------------------------------------------------------------
# libFuzzer needs clang; its objects are built apart, instrumented for the
# fuzzer and for ASan+UBSan whatever SANITIZE says.
FUZZ_SAN     := -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
FUZZ_CFLAGS  := -O1 -g -std=gnu11 -D_GNU_SOURCE -Wall -Wextra -Werror -Wshadow \
                -Wno-unknown-warning-option -Wno-format-truncation -DSOCKHOP_VERSION='"$(VERSION)"' \
                $(FUZZ_SAN)
FUZZ_CONFIG_OBJS := $(patsubst %.c,$(BUILD)/fuzz/obj/%.o,$(CONFIG_SRCS) cgroup/cgroup.c proxy/common/addr.c)

$(BUILD)/fuzz/obj/%.o: %.c kern/sockhop.h
	$(call msg,FUZZCC,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CLANG) $(CPPFLAGS) $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link -MMD -MP -c $< -o $@

$(BUILD)/fuzz/fuzz_config $(BUILD)/fuzz/fuzz_rules: $(BUILD)/fuzz/fuzz_%: \
		$(BUILD)/fuzz/obj/tests/fuzz/fuzz_%.o $(FUZZ_CONFIG_OBJS)
	$(call msg,LINK,$@)
	$(Q)$(CLANG) $(FUZZ_SAN) -fsanitize=fuzzer $^ -lyaml -o $@

$(BUILD)/fuzz/fuzz_request: $(BUILD)/fuzz/obj/tests/fuzz/fuzz_request.o \
		$(BUILD)/fuzz/obj/proxy/daemon/request.o $(BUILD)/fuzz/obj/proxy/common/emit.o
	$(call msg,LINK,$@)
	$(Q)$(CLANG) $(FUZZ_SAN) -fsanitize=fuzzer $^ -o $@

$(BUILD)/kern:
	$(Q)mkdir -p $@

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
