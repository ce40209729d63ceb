# install.mk: `make install` and `make uninstall` (included by the Makefile).
#
# The three programs find each other through /proc/self/exe, so they live
# together in $(PREFIX)/lib/ledgerbox, and $(PREFIX)/bin/ledgerbox is a
# relative link to the CLI there (so the staged tree works as it is). The sample configuration is written by
# the built binary itself (`ledgerbox config sample`), so it always lists
# the settings this build really has; the systemd unit is made from
# packaging/ledgerbox.service.in with the real paths put in.
#
# PREFIX (default /usr/local) is where the files will live; DESTDIR is
# prepended only when copying, for staged and package builds. Install
# never writes the live ledgerbox.conf, and uninstall never removes it or
# the state in /var/lib/ledgerbox.

PREFIX           ?= /usr/local
DESTDIR          ?=
BINDIR           ?= $(PREFIX)/bin
LEDGERBOX_LIBDIR ?= $(PREFIX)/lib/ledgerbox
# The configuration lives in /etc/ledgerbox whatever the prefix: never in
# PREFIX/etc (/usr/local/etc by default), which sits below /usr, the tree
# programs and their sandboxes look into. The folder is 0700 and its files
# 0600, as ledgerbox.conf holds database_url and llm_key.
SYSCONFDIR       := /etc
SYSTEMD_UNIT_DIR ?= $(PREFIX)/lib/systemd/system

INSTALL_PROGRAMS  = $(BIN) $(SERVER) $(RUNNER)
INSTALL_UNIT_IN   = packaging/ledgerbox.service.in
INSTALL_CONF_DIR  = $(DESTDIR)$(SYSCONFDIR)/ledgerbox
INSTALL_SAMPLE    = $(INSTALL_CONF_DIR)/ledgerbox.conf.sample
INSTALL_UNIT      = $(DESTDIR)$(SYSTEMD_UNIT_DIR)/ledgerbox.service

.PHONY: install uninstall

# Each file is written beside its place and renamed into it, so a failed
# or interrupted install never leaves a half-written program or file.
install: all $(INSTALL_UNIT_IN)
	@set -e; \
	install -d -m 0755 "$(DESTDIR)$(LEDGERBOX_LIBDIR)" "$(DESTDIR)$(BINDIR)" \
		"$(DESTDIR)$(SYSTEMD_UNIT_DIR)"; \
	install -d -m 0700 "$(INSTALL_CONF_DIR)"; \
	chmod 0700 "$(INSTALL_CONF_DIR)"; \
	for p in $(INSTALL_PROGRAMS); do \
		dst="$(DESTDIR)$(LEDGERBOX_LIBDIR)/$${p##*/}"; \
		install -m 0755 "$$p" "$$dst.new"; \
		mv -f "$$dst.new" "$$dst"; \
		echo "  installed $$dst"; \
	done; \
	link=$$(realpath -m -s --relative-to="$(BINDIR)" "$(LEDGERBOX_LIBDIR)/ledgerbox"); \
	ln -sfn "$$link" "$(DESTDIR)$(BINDIR)/ledgerbox.new"; \
	mv -Tf "$(DESTDIR)$(BINDIR)/ledgerbox.new" "$(DESTDIR)$(BINDIR)/ledgerbox"; \
	echo "  linked    $(DESTDIR)$(BINDIR)/ledgerbox -> $$link"; \
	rm -f "$(INSTALL_SAMPLE).new"; \
	"$(BIN)" config sample --output "$(INSTALL_SAMPLE).new"; \
	mv -f "$(INSTALL_SAMPLE).new" "$(INSTALL_SAMPLE)"; \
	echo "  wrote     $(INSTALL_SAMPLE)"; \
	sed -e 's|@BINDIR@|$(BINDIR)|g' -e 's|@SYSCONFDIR@|$(SYSCONFDIR)|g' \
		"$(INSTALL_UNIT_IN)" > "$(INSTALL_UNIT).new"; \
	if grep -n '@[A-Z_]*@' "$(INSTALL_UNIT).new"; then \
		echo "install: a placeholder was left in the unit" >&2; \
		rm -f "$(INSTALL_UNIT).new"; exit 1; \
	fi; \
	chmod 0644 "$(INSTALL_UNIT).new"; \
	mv -f "$(INSTALL_UNIT).new" "$(INSTALL_UNIT)"; \
	echo "  wrote     $(INSTALL_UNIT)"; \
	old="$(DESTDIR)$(PREFIX)/etc/ledgerbox"; \
	if [ "$$old" != "$(INSTALL_CONF_DIR)" ] && [ -e "$$old/ledgerbox.conf" ]; then \
		echo "install: $$old/ledgerbox.conf is no longer read and sandboxes must not see it:" \
			"move it to $(SYSCONFDIR)/ledgerbox/ledgerbox.conf (mode 0600)" >&2; \
	fi

# Removes what install put, then the folders it made if they are empty:
# a ledgerbox.conf written by hand keeps its folder.
uninstall:
	rm -f "$(DESTDIR)$(LEDGERBOX_LIBDIR)/ledgerbox" \
		"$(DESTDIR)$(LEDGERBOX_LIBDIR)/ledgerbox-server" \
		"$(DESTDIR)$(LEDGERBOX_LIBDIR)/ledgerbox-sql-runner" \
		"$(DESTDIR)$(BINDIR)/ledgerbox" "$(INSTALL_SAMPLE)" "$(INSTALL_UNIT)"
	@for d in "$(DESTDIR)$(LEDGERBOX_LIBDIR)" "$(INSTALL_CONF_DIR)"; do \
		[ ! -d "$$d" ] || rmdir --ignore-fail-on-non-empty "$$d"; \
	done
