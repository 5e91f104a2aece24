# The README's two commands are `make demo` and `make test`; everything else
# here serves them.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip
# Ryu 4.34 builds only with setuptools < 67 (pkg_resources API it relies on);
# the constraint also reaches pip's isolated build environment.
export PIP_CONSTRAINT := $(CURDIR)/constraints/build.txt
export PIP_DISABLE_PIP_VERSION_CHECK := 1
# Debian packages the integration tests drive: real BGP routers and netns tools.
DEBIAN_PACKAGES := gobgpd bird2 iproute2 tcpdump procps

.PHONY: venv install install-demo debs test unit integration lint demo soak clean

$(VENV)/.created:
	$(PYTHON) -m venv $(VENV)
	$(PIP) install -q 'setuptools<67' wheel
	touch $@

venv: $(VENV)/.created

# Non-editable on purpose: the wheel carries ryu_kovn_startup.pth, which an
# editable install would not place in site-packages.
install: venv
	$(PIP) install -q --no-build-isolation '.[test]'

# What the demo needs and nothing more: the package and the emulated API server.
install-demo: venv
	$(PIP) install -q --no-build-isolation '.[emulator]'

debs:
	@missing=""; for p in $(DEBIAN_PACKAGES); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q 'install ok installed' || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" != 0 ]; then echo "missing Debian packages:$$missing (run as root to install)"; exit 1; fi; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing; \
	fi

lint: install
	$(VENV)/bin/ruff check ryu_kovn tests setup.py

unit: install
	$(VENV)/bin/pytest tests/unit

test: install debs lint
	$(VENV)/bin/pytest tests

clean:
	rm -rf $(VENV) build *.egg-info

# The product's front door: the speaker and a real router on loopback, no root.
# The router is gobgpd when installed, else ExaBGP from PyPI (the `demo` extra),
# put into the venv only then; RYU_KOVN_DEMO_ROUTER=exabgp forces ExaBGP.
demo: install-demo
	@if [ "$${RYU_KOVN_DEMO_ROUTER:-auto}" = exabgp ] || \
	    ! { command -v gobgpd && command -v gobgp; } >/dev/null 2>&1; then \
	  $(PY) -c 'import exabgp' 2>/dev/null || { \
	    echo "demo: the router will be ExaBGP (no gobgpd, or forced): installing ExaBGP from PyPI into $(VENV)"; \
	    $(PIP) install -q --no-build-isolation '.[demo]'; }; \
	fi
	@$(PY) demo/demo.py

# The full churn soak of issue 5 (root: network namespaces): 10k pods, 200 changes/s for 60 s,
# two API stream drops and a router restart; fails unless lost = leaked = 0.
soak: install debs
	$(PY) tests/integration/soak.py --pods 10000 --rate 200 --seconds 60 --out benchmarks/results/soak.json

# Issue 6's figures, ryu-kovn and GoBGP side by side (root: network namespaces; ~6-10 min):
# benchmarks/results/latest.json and latest.png, and a summary table. BENCH_SCALE=small
# measures 10k only (~1.5 min); BENCH_PROFILE=always|never (default: py-spy where a target
# is missed). gobgpd's .proto files (for the GoBGP anchor's gRPC stubs) come from Debian.
GOBGP_PROTO := /usr/share/gocode/src/github.com/osrg/gobgp/api/gobgp.proto
.PHONY: bench
bench: venv debs
	@test -f $(GOBGP_PROTO) || { \
	  if [ "$$(id -u)" != 0 ]; then echo "missing golang-github-osrg-gobgp-dev (run as root to install)"; exit 1; fi; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends golang-github-osrg-gobgp-dev; }
	$(PIP) install -q --no-build-isolation '.[emulator,bench]'
	$(PY) benchmarks/bench.py
