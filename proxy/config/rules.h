/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * rules.h - compile a scope's rules into the entries of its rule trie. The
 * trie answers with the longest matching prefix only, so the entry of prefix
 * P carries every rule whose prefix contains P, in config order; the BPF
 * side then takes the first of those that matches protocol and port.
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

/** rules_prefix_contains() - does prefix @a/@alen contain prefix @b/@blen? */
int rules_prefix_contains(const uint8_t a[16], int alen, const uint8_t b[16], int blen);

/**
 * rules_lower_balance() - replace each balance rule of @sc by one rule per
 * virtual address and protocol of its service (config order kept): the
 * rules the connect hooks match. 0 or -ENOMEM.
 */
int rules_lower_balance(const struct cfg *cfg, struct cfg_scope *sc);

#endif /* SOCKHOP_RULES_H */
