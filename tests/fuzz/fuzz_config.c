// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * fuzz_config.c - libFuzzer harness: the config parser and validator on any
 * bytes, then what the daemon does with a config it accepted: the lint,
 * the reload check against the shipped default and against itself, and
 * each scope's rule compile and decompile.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "lint.h"
#include "reload.h"
#include "rules.h"

static struct cfg *shipped;	/* the shipped default, parsed once */

static struct cfg *parse(const char *buf, size_t len)
{
	char err[4096];
	struct cfg *cfg = NULL;
	int ret = cfg_parse("fuzz.yaml", buf, len, &cfg, err, sizeof(err));

	if (ret == 0 && !cfg)
		abort();		/* success must give a config */
	if (ret && (cfg || strncmp(err, "fuzz.yaml:", 10)))
		abort();		/* an error names the file first */
	return ret ? NULL : cfg;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	static const char def[] = "scopes:\n  - name: mesh\n    cgroup: sockhop-fuzz\n"
				  "    rules:\n      - {action: accelerate, destination: 127.0.0.0/8}\n";

	(void)argc;
	(void)argv;
	shipped = parse(def, sizeof(def) - 1);
	if (!shipped)
		abort();
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char why[1024], lint[4096];
	struct cfg *cfg = parse((const char *)data, size);
	size_t i;

	if (!cfg)
		return 0;
	cfg_lint(cfg, lint, sizeof(lint));
	reload_check(shipped, cfg, why, sizeof(why));
	if (reload_check(cfg, cfg, why, sizeof(why)))
		abort();		/* a config is always a valid reload of itself */
	for (i = 0; i < cfg->nr_scopes; i++) {
		struct rules_entry *e = NULL;
		struct rules_rule *r = NULL;
		const struct cfg_rule *over;
		size_t n = 0, nr = 0;

		if (rules_compile(&cfg->scopes[i], &e, &n, &over) == 0 &&
		    (rules_decompile(e, n, &r, &nr) || nr != cfg->scopes[i].nr_rules))
			abort();	/* every rule comes back from the trie */
		free(r);
		free(e);
	}
	cfg_free(cfg);
	return 0;
}
