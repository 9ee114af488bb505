# atlasops.backup: developer and CI entry points.  `make help` lists the targets.
#
# Everything is created inside the repository:
#   .venv/             tools on the newest ansible-core (2.21, Python >= 3.12)
#   .venv-core2.16/    ansible-core 2.16, the oldest supported core (Python 3.10-3.12)
#   .build/collections/ansible_collections/atlasops/backup/
#                      a mirror of the repository, where ansible-test, ansible-doc,
#                      ansible-lint and antsibull run (they need that path layout)
#   .build/home/       HOME for ansible-test and ansible-lint (their venvs, caches,
#                      pip bootstrap), so nothing is written to your ~/.ansible
#   .build/dist/       the built collection artifact

SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := help
.DELETE_ON_ERROR:
.NOTPARALLEL:
MAKEFLAGS += --no-builtin-rules

REPO := $(patsubst %/,%,$(dir $(abspath $(lastword $(MAKEFILE_LIST)))))

# ---------------------------------------------------------------------------
# Knobs (override on the command line: make sanity PYTHON=/usr/bin/python3.13)
VENV      ?= .venv
VENV216   ?= .venv-core2.16
VENV_IMPORTER ?= .venv-importer
# interpreters for the two venvs; found by tools/find_python.py when empty
PYTHON    ?=
PYTHON216 ?=
# extra arguments
PYTEST_ARGS  ?=
SANITY_ARGS  ?=
UNITS_ARGS   ?=
LINT_ARGS    ?=
# pytest-xdist workers for the functional suites (0: no xdist, one process), and how tests are handed out.
# The tests mostly wait on emulated restores (one process: 14 min wall for 6.5 min of CPU), so more workers than
# cores pays: on 2 busy cores 4 workers took 7.8 min, 2 workers 9.3 min. Each worker starts its own emulator.
FUNCTIONAL_WORKERS ?= 4
FUNCTIONAL_DIST    ?= load
# compile+import sanity on every Python 3.9+ found (pyenv), not only the controller's
SANITY_ALL_PYTHONS ?= 1

BUILD     := .build
COLL_ROOT := $(BUILD)/collections
COLL_DIR  := $(COLL_ROOT)/ansible_collections/atlasops/backup
DIST      := $(BUILD)/dist
TEST_HOME := $(REPO)/$(BUILD)/home

ABS_COLL_ROOT := $(REPO)/$(COLL_ROOT)
ABS_VENV      := $(abspath $(VENV))
ABS_VENV216   := $(abspath $(VENV216))

COLLECTION := atlasops.backup

# Any Python 3 runs the helper scripts that do not need a venv.
BOOT_PY ?= $(shell command -v python3 2>/dev/null || command -v python 2>/dev/null)
ifeq ($(strip $(BOOT_PY)),)
$(error no python3 on PATH: install Python 3 first)
endif

PYENV_ROOT ?= $(HOME)/.pyenv
export PYENV_ROOT

# The official OpenAPI subset of the Atlas API (never copied into the repo).
# Exported as an absolute path: tests run from the mirror, where ../shared
# does not resolve.  When it is missing the tests that need it skip.
ATLAS_OPENAPI_SPEC ?=
ifeq ($(strip $(ATLAS_OPENAPI_SPEC)),)
override ATLAS_OPENAPI_SPEC := $(abspath $(wildcard $(REPO)/../shared/atlas-openapi/atlas-restore-subset.yaml))
else
override ATLAS_OPENAPI_SPEC := $(abspath $(ATLAS_OPENAPI_SPEC))
endif
ifneq ($(ATLAS_OPENAPI_SPEC),)
export ATLAS_OPENAPI_SPEC
else
unexport ATLAS_OPENAPI_SPEC
endif

# Evaluated when a recipe runs (after its venv exists):
# the real interpreter directory behind a venv (pyvenv.cfg "home"), and its X.Y.
venv_home = $(shell sed -n 's/^home *= *//p' $(1)/pyvenv.cfg 2>/dev/null)
venv_pyver = $(shell $(1)/bin/python -c 'import sys; print("%d.%d" % sys.version_info[:2])' 2>/dev/null)
empty :=
space := $(empty) $(empty)
uniq = $(if $(1),$(firstword $(1)) $(call uniq,$(filter-out $(firstword $(1)),$(1))))
join_path = $(subst $(space),:,$(strip $(call uniq,$(1))))
# every real interpreter directory pyenv has (target Pythons for ansible-test);
# pyenv shims stop working once ansible-test strips the environment.
PYENV_BIN_DIRS = $(wildcard $(foreach v,9 10 11 12 13 14 15,$(PYENV_ROOT)/versions/3.$(v).*/bin))
# the real interpreters of both venvs first, then every pyenv Python
real_python_dirs = $(call venv_home,$(1)) $(call venv_home,$(VENV)) $(call venv_home,$(VENV216)) $(PYENV_BIN_DIRS)

# ansible-test ($(1) = the venv whose ansible-test runs): repo-local HOME (its venvs,
# caches, pip bootstrap), real interpreters first on PATH, nothing from a venv.
test_env = env HOME=$(TEST_HOME) PYENV_ROOT=$(PYENV_ROOT) \
	PATH="$(call join_path,$(call real_python_dirs,$(1))):$$PATH" \
	ANSIBLE_COLLECTIONS_PATH=$(ABS_COLL_ROOT) PYTHONDONTWRITEBYTECODE=1
# the venv's tools (ansible-lint, ansible-doc, antsibull-*): its bin first on PATH,
# repo-local HOME, the mirror as the only collections path.
tool_env = env HOME=$(TEST_HOME) PYENV_ROOT=$(PYENV_ROOT) \
	PATH="$(call join_path,$(abspath $(1))/bin $(call real_python_dirs,$(1))):$$PATH" \
	ANSIBLE_COLLECTIONS_PATH=$(ABS_COLL_ROOT) ANSIBLE_NOCOLOR=1 PYTHONDONTWRITEBYTECODE=1
# plain pytest, playbooks and the demo (user HOME): the venv first on PATH,
# the mirror importable (PYTHONPATH) and installed (ANSIBLE_COLLECTIONS_PATH)
run_env = env PATH="$(abspath $(1))/bin:$$PATH" PYTHONPATH=$(ABS_COLL_ROOT) \
	ANSIBLE_COLLECTIONS_PATH=$(ABS_COLL_ROOT) PYTHONDONTWRITEBYTECODE=1

.PHONY: help venv venv216 collection seed unit functional functional-core2.16 sanity sanity-core2.21 sanity-core2.16 \
	sanity-targets no-sanity-ignores units units-core2.21 units-core2.16 lint docs docs-lint \
	changelog-lint build galaxy-import test demo emulator bench soak clean distclean

help: ## show this help
	@echo "atlasops.backup: make targets"
	@echo
	@awk 'BEGIN {FS = ":.*## "} /^[a-zA-Z0-9_.-]+:.*## / {printf "  %-18s %s\n", $$1, $$2}' $(MAKEFILE_LIST)
	@echo
	@echo "Variables: PYTHON / PYTHON216 (interpreters for $(VENV) / $(VENV216)),"
	@echo "  ATLAS_OPENAPI_SPEC (default: ../shared/atlas-openapi/atlas-restore-subset.yaml, now: $(or $(ATLAS_OPENAPI_SPEC),not found)),"
	@echo "  PYTEST_ARGS, SANITY_ARGS, UNITS_ARGS, LINT_ARGS, BENCH_ARGS, SOAK_ARGS, SANITY_ALL_PYTHONS=0|1,"
	@echo "  FUNCTIONAL_WORKERS (pytest-xdist workers of the functional suites, 0: none; now $(FUNCTIONAL_WORKERS)), FUNCTIONAL_DIST"

# ---------------------------------------------------------------------------
# Virtual environments: rebuilt when their requirements file changes, reused otherwise.

# pip's complaints about find-links/extra-index locations that do not exist on this machine
PIP_NOISE := ^WARNING: Location '.*' is ignored: it is neither a file nor a directory

venv: $(VENV)/.installed ## create/update .venv (ansible-core 2.21 and the dev tools)
venv216: $(VENV216)/.installed ## create/update .venv-core2.16 (ansible-core 2.16)

$(VENV)/.installed: requirements-dev.txt
	@if ! $(VENV)/bin/python -c '' 2>/dev/null; then \
	  py="$$($(BOOT_PY) tools/find_python.py --min 3.12 --max 3.14 --prefer 3.13 \
	        --purpose 'ansible-core 2.21 ($(VENV))' $(if $(PYTHON),--use '$(PYTHON)'))"; \
	  echo "creating $(VENV) with $$py"; rm -rf $(VENV); "$$py" -m venv $(VENV); \
	fi
	$(VENV)/bin/python -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt 2>&1 | { grep -v "$(PIP_NOISE)" || true; }
	@touch $@

$(VENV216)/.installed: requirements-core216.txt
	@if ! $(VENV216)/bin/python -c '' 2>/dev/null; then \
	  py="$$($(BOOT_PY) tools/find_python.py --min 3.10 --max 3.12 --prefer 3.12 \
	        --purpose 'ansible-core 2.16 ($(VENV216))' $(if $(PYTHON216),--use '$(PYTHON216)'))"; \
	  echo "creating $(VENV216) with $$py"; rm -rf $(VENV216); "$$py" -m venv $(VENV216); \
	fi
	$(VENV216)/bin/python -m pip install --quiet --disable-pip-version-check -r requirements-core216.txt 2>&1 | { grep -v "$(PIP_NOISE)" || true; }
	@touch $@

# ---------------------------------------------------------------------------
# The collection mirror

collection: ## mirror the repo (git-tracked + untracked-not-ignored files) into .build/collections
	@$(BOOT_PY) tools/sync_collection.py --git-init . $(COLL_DIR)

# ansible-test --venv downloads get-pip from a host that may be unreachable: seed a stand-in
seed: $(VENV)/.installed $(VENV216)/.installed ## write ansible-test's pip bootstrap stand-ins into .build/home
	@mkdir -p $(TEST_HOME)
	@HOME=$(TEST_HOME) $(VENV)/bin/python tools/seed_ansible_test_pip.py $(VENV)/bin/python
	@HOME=$(TEST_HOME) $(VENV216)/bin/python tools/seed_ansible_test_pip.py $(VENV216)/bin/python

# ---------------------------------------------------------------------------
# Tests

spec_note = $(if $(ATLAS_OPENAPI_SPEC),,echo "$(1): ATLAS_OPENAPI_SPEC not found: tests that need the OpenAPI subset will skip";)

unit: venv collection ## pytest tests/unit (plain pytest, fastest loop)
	@$(call spec_note,unit) \
	set -x; cd $(COLL_DIR) && $(call run_env,$(VENV)) $(ABS_VENV)/bin/python -m pytest -p no:cacheprovider tests/unit $(PYTEST_ARGS)

# pytest-xdist's options for the functional suites (none when FUNCTIONAL_WORKERS is 0)
functional_xdist = $(if $(filter-out 0,$(FUNCTIONAL_WORKERS)),-n $(FUNCTIONAL_WORKERS) --dist $(FUNCTIONAL_DIST))

functional: venv collection ## pytest tests/functional (the emulator and real ansible-playbook runs)
	@$(call spec_note,functional) \
	set -x; cd $(COLL_DIR) && $(call run_env,$(VENV)) $(ABS_VENV)/bin/python -m pytest -p no:cacheprovider \
	  $(functional_xdist) tests/functional $(PYTEST_ARGS)

# The playbook-driven tests once more with ansible-core 2.16 running the playbooks (its templating
# has no native types, which roles must survive).
FUNCTIONAL_CORE216 := tests/functional/test_role.py tests/functional/test_role_values.py tests/functional/test_role_rerun.py \
	tests/functional/test_restore_job.py tests/functional/test_role_fleet.py tests/functional/test_fleet.py \
	tests/functional/test_info_modules.py tests/functional/test_hostile_inputs.py tests/functional/test_never_twice.py

functional-core2.16: venv216 collection ## the playbook-driven functional tests on ansible-core 2.16
	@$(call spec_note,functional-core2.16) \
	set -x; cd $(COLL_DIR) && $(call run_env,$(VENV216)) $(ABS_VENV216)/bin/python -m pytest -p no:cacheprovider \
	  $(functional_xdist) $(FUNCTIONAL_CORE216) $(PYTEST_ARGS)

no-sanity-ignores: collection
	@found="$$(find $(COLL_DIR)/tests/sanity -maxdepth 1 -type f \( -name 'ignore*.txt' -o -name 'skip*.txt' \) 2>/dev/null || true)"; \
	if [ -n "$$found" ]; then echo "sanity ignore files are not allowed (Automation Hub rejects most entries):"; echo "$$found"; exit 1; fi

sanity: sanity-core2.21 sanity-core2.16 sanity-targets ## ansible-test sanity on ansible-core 2.21 and 2.16

sanity-core2.21: venv collection seed no-sanity-ignores ## ansible-test sanity --venv, core 2.21, the .venv Python
	cd $(COLL_DIR) && $(call test_env,$(VENV)) $(ABS_VENV)/bin/ansible-test sanity --venv \
	  --python $(call venv_pyver,$(VENV)) --color no $(SANITY_ARGS)

sanity-core2.16: venv216 collection seed no-sanity-ignores ## ansible-test sanity --venv, core 2.16, the .venv-core2.16 Python
	cd $(COLL_DIR) && $(call test_env,$(VENV216)) $(ABS_VENV216)/bin/ansible-test sanity --venv \
	  --python $(call venv_pyver,$(VENV216)) --color no $(SANITY_ARGS)

# Modules run on the managed node's Python (tests/config.yml: python_requires >= 3.9):
# compile and import them on every such Python that is installed (missing ones are skipped).
sanity-targets: venv collection seed no-sanity-ignores ## compile+import sanity on every installed target Python (core 2.21)
ifeq ($(SANITY_ALL_PYTHONS),1)
	cd $(COLL_DIR) && $(call test_env,$(VENV)) $(ABS_VENV)/bin/ansible-test sanity --venv \
	  --test compile --test import --color no $(SANITY_ARGS)
else
	@echo "sanity-targets: skipped (SANITY_ALL_PYTHONS=$(SANITY_ALL_PYTHONS))"
endif

units: units-core2.21 units-core2.16 ## ansible-test units on ansible-core 2.21 and 2.16

units-core2.21: venv collection seed ## ansible-test units --venv, core 2.21
	cd $(COLL_DIR) && $(call test_env,$(VENV)) $(ABS_VENV)/bin/ansible-test units --venv --requirements \
	  --python $(call venv_pyver,$(VENV)) --color no $(UNITS_ARGS)

units-core2.16: venv216 collection seed ## ansible-test units --venv, core 2.16
	cd $(COLL_DIR) && $(call test_env,$(VENV216)) $(ABS_VENV216)/bin/ansible-test units --venv --requirements \
	  --python $(call venv_pyver,$(VENV216)) --color no $(UNITS_ARGS)

lint: venv collection ## ansible-lint --profile production
	@mkdir -p $(TEST_HOME)
	cd $(COLL_DIR) && $(call tool_env,$(VENV)) ansible-lint --profile production --offline --nocolor $(LINT_ARGS)
	@rm -rf $(COLL_DIR)/.ansible

# ansible-doc for every module (plugins/modules/*.py) and every role (roles/*/, which
# needs meta/argument_specs.yml), on both cores; output on stderr (a warning, an
# error) fails, as in ansible-test's ansible-doc sanity test, except core 2.21's own
# warning about its internal collection (ansible._protomatter has no version).
DOC_BENIGN := Collection at '[^']*/ansible/_internal/ansible_collections/
DOC_ITEMS = $(foreach f,$(filter-out __init__,$(basename $(notdir $(wildcard $(COLL_DIR)/plugins/modules/*.py)))),module:$(COLLECTION).$(f)) \
	$(foreach d,$(patsubst %/,%,$(notdir $(patsubst %/,%,$(wildcard $(COLL_DIR)/roles/*/)))),role:$(COLLECTION).$(d))
define ansible_doc_all
	@cd $(COLL_DIR); status=0; core="$$($(abspath $(1))/bin/ansible --version | sed -n 1p)"; \
	echo "$$core"; \
	for item in $(DOC_ITEMS); do \
	  kind="$${item%%:*}"; name="$${item#*:}"; \
	  if $(call tool_env,$(1)) ansible-doc -t "$$kind" "$$name" >$(TEST_HOME)/ansible-doc.out 2>$(TEST_HOME)/ansible-doc.err \
	     && ! grep -v "$(DOC_BENIGN)" $(TEST_HOME)/ansible-doc.err >/dev/null && [ -s $(TEST_HOME)/ansible-doc.out ]; then \
	    echo "  ok    ansible-doc -t $$kind $$name ($$(wc -l <$(TEST_HOME)/ansible-doc.out) lines)"; \
	  else \
	    echo "  FAIL  ansible-doc -t $$kind $$name"; sed 's/^/        /' $(TEST_HOME)/ansible-doc.err; status=1; \
	  fi; \
	done; \
	exit $$status
endef

docs: venv venv216 collection ## ansible-doc of every module and role, on core 2.21 and 2.16
	@mkdir -p $(TEST_HOME)
	@if [ -z "$(strip $(DOC_ITEMS))" ]; then echo "docs: no module or role found"; exit 1; fi
	$(call ansible_doc_all,$(VENV))
	$(call ansible_doc_all,$(VENV216))

docs-lint: venv collection ## antsibull-docs lint-collection-docs --plugin-docs
	cd $(COLL_DIR) && $(call tool_env,$(VENV)) antsibull-docs lint-collection-docs --plugin-docs .

changelog-lint: venv collection ## antsibull-changelog lint (fragments and changelog.yaml)
	cd $(COLL_DIR) && $(call tool_env,$(VENV)) antsibull-changelog lint
	cd $(COLL_DIR) && $(call tool_env,$(VENV)) antsibull-changelog lint-changelog-yaml changelogs/changelog.yaml

# The artifact must hold the collection and its EE metadata, and none of the dev/test tooling.
ARTIFACT_REQUIRED  := MANIFEST.json FILES.json README.md LICENSE meta/runtime.yml \
	meta/execution-environment.yml meta/ee-requirements.txt
ARTIFACT_FORBIDDEN := tests/emulator/ tests/functional/ tests/output/ tools/ docs/dev/ .ci/ .venv .build/ \
	.git/ .gitignore Makefile requirements-dev.txt requirements-core216.txt changelogs/.plugin-cache.yaml

build: venv collection ## ansible-galaxy collection build into .build/dist, then check its contents
	@mkdir -p $(DIST)
	@rm -f $(DIST)/atlasops-backup-*.tar.gz
	cd $(COLL_DIR) && $(call tool_env,$(VENV)) ansible-galaxy collection build --force --output-path $(REPO)/$(DIST)
	@art="$$(ls $(DIST)/atlasops-backup-*.tar.gz)"; status=0; \
	tar -tzf "$$art" | sed 's|^\./||' > $(DIST)/contents.txt; \
	for f in $(ARTIFACT_REQUIRED); do \
	  grep -qxF "$$f" $(DIST)/contents.txt || { echo "build: $$f is missing from $$art"; status=1; }; \
	done; \
	for f in $(ARTIFACT_FORBIDDEN); do \
	  if grep -q "^$${f//./\\.}" $(DIST)/contents.txt; then echo "build: $$f must not be in $$art"; status=1; fi; \
	done; \
	[ $$status -eq 0 ] && echo "build: $$art ($$(wc -l < $(DIST)/contents.txt) entries) ok"; \
	exit $$status
	@# install the artifact and read its EE dependencies as ansible-builder would
	@rm -rf $(BUILD)/installed
	@$(call tool_env,$(VENV)) ansible-galaxy collection install --offline --force \
	  -p $(REPO)/$(BUILD)/installed $(DIST)/atlasops-backup-*.tar.gz > $(DIST)/install.log 2>&1 \
	  || { cat $(DIST)/install.log; exit 1; }
	@$(VENV)/bin/ansible-builder introspect --sanitize $(BUILD)/installed > $(DIST)/introspect.txt
	@if grep -q 'from collection atlasops.backup' $(DIST)/introspect.txt; then \
	  echo "build: ansible-builder sees the EE dependencies:"; sed -n 's/^- /  /p' $(DIST)/introspect.txt; \
	else echo "build: ansible-builder found no EE dependencies in the installed artifact:"; cat $(DIST)/introspect.txt; exit 1; fi

# Galaxy's own importer (its metadata rules, ansible-doc loading, ansible-lint) on the artifact `make build` made, in
# its own venv (it pins its own ansible-core and ansible-lint).  ansible-test inside it is off: `make test` runs sanity
# itself.  It writes importer_result.json into its working directory, so it runs in .build/importer.
IMPORTER_DIR := $(BUILD)/importer

$(VENV_IMPORTER)/.installed: requirements-importer.txt
	@if ! $(VENV_IMPORTER)/bin/python -c '' 2>/dev/null; then \
	  py="$$($(BOOT_PY) tools/find_python.py --min 3.12 --max 3.12 --prefer 3.12 \
	        --purpose 'galaxy-importer ($(VENV_IMPORTER))')"; \
	  echo "creating $(VENV_IMPORTER) with $$py"; rm -rf $(VENV_IMPORTER); "$$py" -m venv $(VENV_IMPORTER); \
	fi
	$(VENV_IMPORTER)/bin/python -m pip install --quiet --disable-pip-version-check -r requirements-importer.txt 2>&1 | { grep -v "$(PIP_NOISE)" || true; }
	@touch $@

galaxy-import: $(VENV_IMPORTER)/.installed ## galaxy-importer on the built artifact (make build first; builds when there is none)
	@ls $(DIST)/atlasops-backup-*.tar.gz >/dev/null 2>&1 || $(MAKE) --no-print-directory build
	@rm -rf $(IMPORTER_DIR); mkdir -p $(IMPORTER_DIR) $(TEST_HOME)
	@printf '[galaxy-importer]\nRUN_ANSIBLE_TEST = False\nRUN_ANSIBLE_LINT = True\nLOG_LEVEL_MAIN = INFO\n' > $(IMPORTER_DIR)/galaxy-importer.cfg
	@art="$$(ls $(REPO)/$(DIST)/atlasops-backup-*.tar.gz)"; \
	cd $(IMPORTER_DIR) && status=0; \
	env GALAXY_IMPORTER_CONFIG=$(REPO)/$(IMPORTER_DIR)/galaxy-importer.cfg HOME=$(TEST_HOME) \
	  PATH="$(abspath $(VENV_IMPORTER))/bin:$$PATH" ANSIBLE_NOCOLOR=1 PYTHONDONTWRITEBYTECODE=1 \
	  $(abspath $(VENV_IMPORTER))/bin/python -m galaxy_importer.main "$$art" > import.log 2>&1 || status=$$?; \
	if [ $$status -ne 0 ] || grep -Eq '^(ERROR|CRITICAL)' import.log || ! grep -q 'Importer processing completed successfully' import.log \
	   || [ ! -s importer_result.json ]; then \
	  cat import.log; echo "galaxy-import: galaxy-importer refused $$(basename "$$art") (exit $$status; log: $(IMPORTER_DIR)/import.log)"; exit 1; \
	fi; \
	warnings="$$(grep -c '^WARNING' import.log || true)"; \
	echo "galaxy-import: $$(basename "$$art") imports cleanly with $$($(abspath $(VENV_IMPORTER))/bin/python -m pip show galaxy-importer \
	  2>/dev/null | sed -n 's/^Version: /galaxy-importer /p') ($$warnings warning(s); log: $(IMPORTER_DIR)/import.log)"; \
	if [ "$$warnings" != 0 ]; then grep '^WARNING' import.log; fi

# Cheapest first.  Each step runs as its own make, timed; the first failing step
# stops the run (KEEP_GOING=1 runs every step and fails at the end instead).
TEST_STEPS := unit build galaxy-import changelog-lint docs docs-lint lint units-core2.21 units-core2.16 \
	functional functional-core2.16 sanity-core2.21 sanity-core2.16 sanity-targets
KEEP_GOING ?= 0

test: venv venv216 ## everything CI runs: unit build galaxy-import changelog-lint docs docs-lint lint units functional (2.21, 2.16) sanity
	@failed=(); summary=(); passed=0; \
	for step in $(TEST_STEPS); do \
	  echo; echo "===== make $$step ====="; t0=$$(date +%s); \
	  if $(MAKE) --no-print-directory $$step; then r=ok; passed=$$((passed + 1)); else r=FAILED; failed+=("$$step"); fi; \
	  summary+=("$$(printf '%-16s %-7s %5ss' "$$step" "$$r" "$$(( $$(date +%s) - t0 ))")"); \
	  if [ "$$r" = FAILED ] && [ "$(KEEP_GOING)" != 1 ]; then break; fi; \
	done; \
	echo; echo "make test summary:"; printf '  %s\n' "$${summary[@]}"; \
	if [ $${#failed[@]} -gt 0 ]; then echo "make test: FAILED: $${failed[*]}"; fi; \
	echo "checks: $$passed passed, $${#failed[@]} failed"; \
	[ $${#failed[@]} -eq 0 ]

demo: venv collection ## run the demo (tools/demo.py) against the emulator
	@test -f tools/demo.py || { echo "demo: tools/demo.py does not exist yet"; exit 1; }
	@mkdir -p $(TEST_HOME)
	$(call run_env,$(VENV)) $(ABS_VENV)/bin/python tools/demo.py

# The emulator in the foreground with the demo data, to try a runbook without Atlas (README: "Try it without Atlas").
EMULATOR_ARGS ?=

emulator: venv collection ## the Atlas emulator on 127.0.0.1:8710 with demo data, in the foreground (Ctrl-C stops it)
	@$(call run_env,$(VENV)) $(ABS_VENV)/bin/python tools/emulator.py $(EMULATOR_ARGS)

# Measurements, never part of `make test`: they take as long as the restores they time.
BENCH_ARGS ?=
BENCH_FLEET_ARGS ?=
SOAK_ARGS ?=

bench: venv collection ## benchmarks against the emulator: requests per operation, wall time vs a uri playbook, wait latency, memory, fleets
	$(call run_env,$(VENV)) $(ABS_VENV)/bin/python tools/bench.py $(BENCH_ARGS)
	$(call run_env,$(VENV)) $(ABS_VENV)/bin/python tools/bench_fleet.py $(BENCH_FLEET_ARGS)

soak: venv collection ## fault-injection soak: 200 create-and-wait runs through random faults (about 15 minutes)
	$(call run_env,$(VENV)) $(ABS_VENV)/bin/python tools/soak.py $(SOAK_ARGS)

clean: ## remove .build (mirror, ansible-test venvs, artifacts) and caches; keep the venvs
	rm -rf $(BUILD) tests/output
	find . -path ./.git -prune -o -path './.venv*' -prune -o -type d \( -name __pycache__ -o -name .pytest_cache \) -print0 | xargs -0 rm -rf

distclean: clean ## clean, and remove the virtual environments too
	rm -rf $(VENV) $(VENV216)
