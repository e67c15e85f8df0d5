/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * rules.h - compile a scope's rules into the entries of its rule trie, and
 * back. The trie answers with the longest matching prefix only, so the entry
 * of prefix P carries every rule whose prefix contains P, in config order;
 * the BPF side then takes the first of those that matches protocol and port.
 */
#ifndef SOCKHOP_RULES_H
#define SOCKHOP_RULES_H

#include <stddef.h>

#include "config.h"

struct rules_entry {
	struct sh_lpm_key key;
	struct sh_rule_set set;
};

/**
 * rules_compile() - build the trie entries of @scope.
 * @out: receives a malloc'ed array (NULL when the scope has no rule)
 * @nr: receives its length
 * @bad: on -E2BIG, the rule that overflowed a limit
 *
 * Return: 0, -E2BIG when more than SH_MAX_RULES rules apply to one prefix or
 * the scope has more than SH_MAX_PREFIXES prefixes, -ENOMEM.
 */
int rules_compile(const struct cfg_scope *scope, struct rules_entry **out, size_t *nr,
		  const struct cfg_rule **bad);

/* One rule with its own prefix: what the config said, back from a trie. */
struct rules_rule {
	struct sh_lpm_key key;
	struct sh_rule rule;
};

/**
 * rules_decompile() - the rules @ents (@n entries, as rules_compile() built
 * them or as read back from a trie) came from: a rule's own prefix is the
 * entry that holds it while no shorter containing entry does.
 * @out: receives a malloc'ed array in config order (rule index first)
 * @nr: receives its length
 *
 * Return: 0 or -ENOMEM.
 */
int rules_decompile(const struct rules_entry *ents, size_t n, struct rules_rule **out,
		    size_t *nr);

/**
 * rules_lower_balance() - replace each balance rule of @sc by one rule per
 * virtual address and protocol of its service (config order kept): the
 * rules the connect hooks match. 0 or -ENOMEM.
 */
int rules_lower_balance(const struct cfg *cfg, struct cfg_scope *sc);

#endif /* SOCKHOP_RULES_H */
