// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * config.c - the configuration's top level (config.h): the file read and
 * checked as a whole, libyaml's document API (the node tree keeps the line
 * and column of every value, which is what lets each error point at its
 * place in the file), the sections put together, and the model freed.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <yaml.h>

#include "parse.h"

static int parse_root(struct parser *p, struct cfg *cfg)
{
	static const char *const keys[] = { "scopes", "services", "policy", NULL };
	static const char *const policy_keys[] = { "default", "default-mark", NULL };
	yaml_node_t *root = yaml_document_get_root_node(p->doc), *list, *svcs, *pol;
	int bad = 0, err;

	if (!root || (root->type == YAML_SCALAR_NODE && !*scalar(root))) {
		report(p, NULL, "", "the file is empty (expected a mapping with 'scopes' or 'services')");
		return -EINVAL;
	}
	if (expect(p, root, YAML_MAPPING_NODE, "(top level)"))
		return -EINVAL;
	bad |= check_keys(p, root, "(top level)", keys);

	list = lookup(p, root, "scopes");
	svcs = lookup(p, root, "services");
	if (!list && !svcs) {
		report(p, root, "(top level)", "missing required key 'scopes' or 'services'");
		return -EINVAL;
	}
	cfg->no_scope.action = SH_ACT_ALLOW;
	pol = lookup(p, root, "policy");
	if (pol && expect(p, pol, YAML_MAPPING_NODE, "policy"))
		bad = -EINVAL;
	else if (pol)
		bad |= check_keys(p, pol, "policy", policy_keys) |
		       parse_verdict(p, pol, "policy", &cfg->no_scope);
	if (svcs) {
		err = parse_services(p, cfg, svcs);
		if (err == -ENOMEM)
			return err;
		bad |= err;
	}
	if (!list)
		return bad;
	err = parse_scopes(p, cfg, list);
	return err == -ENOMEM ? err : bad ? -EINVAL : err;
}

int cfg_parse(const char *file, const char *buf, size_t len, struct cfg **out, char *err,
	      size_t errlen)
{
	struct parser p = { .file = file, .err = err, .errlen = errlen };
	yaml_parser_t parser;
	yaml_document_t doc, extra;
	const char *nul;
	struct cfg *cfg;
	size_t bad;
	int ret;

	*out = NULL;
	if (errlen)
		err[0] = '\0';
	nul = memchr(buf, '\0', len);
	if (nul) {
		yaml_node_t at = at_offset(buf, (size_t)(nul - buf));

		report(&p, &at, "", "the file contains a NUL byte (is it a YAML text file?)");
		return -EINVAL;
	}
	bad = utf8_invalid_at((const unsigned char *)buf, len);
	if (bad < len) {
		yaml_node_t at = at_offset(buf, bad);

		report(&p, &at, "", "invalid UTF-8 (byte 0x%02x): the file must be UTF-8 text",
		       (unsigned char)buf[bad]);
		return -EINVAL;
	}
	ret = check_events(&p, buf, len);
	if (ret)
		return ret;
	cfg = calloc(1, sizeof(*cfg));
	if (!cfg)
		return -ENOMEM;
	snprintf(cfg->file, sizeof(cfg->file), "%s", file);

	if (!yaml_parser_initialize(&parser)) {
		free(cfg);
		return -ENOMEM;
	}
	yaml_parser_set_input_string(&parser, (const unsigned char *)buf, len);
	if (!yaml_parser_load(&parser, &doc)) {
		report_yaml_error(&p, &parser, buf);
		yaml_parser_delete(&parser);
		free(cfg);
		return -EINVAL;
	}
	/* One document: a second one (after "---"), valid or not, is refused
	 * rather than silently ignored. */
	if (!yaml_parser_load(&parser, &extra)) {
		report_yaml_error(&p, &parser, buf);
		ret = -EINVAL;
		goto out_doc;
	}
	if (yaml_document_get_root_node(&extra)) {
		yaml_node_t at = { .start_mark = extra.start_mark };

		report(&p, &at, "", "a second YAML document starts here; the file must hold "
		       "exactly one (remove this '---' and what follows, or merge them)");
		yaml_document_delete(&extra);
		ret = -EINVAL;
		goto out_doc;
	}
	yaml_document_delete(&extra);
	p.doc = &doc;
	p.cfg = cfg;
	ret = parse_root(&p, cfg);
out_doc:
	yaml_document_delete(&doc);
	yaml_parser_delete(&parser);
	if (ret) {
		cfg_free(cfg);
		return ret;
	}
	*out = cfg;
	return 0;
}

/* What kind of file @m is, for an operator. */
static const char *file_kind(mode_t m)
{
	return S_ISDIR(m) ? "a directory" : S_ISFIFO(m) ? "a FIFO" : S_ISSOCK(m) ? "a socket" :
	       S_ISCHR(m) ? "a character device" : S_ISBLK(m) ? "a block device" :
	       "not a regular file";
}

int cfg_load(const char *path, struct cfg **out, char *err, size_t errlen)
{
	struct stat st;
	char *buf = NULL;
	ssize_t n;
	size_t got = 0;
	int fd, ret;

	*out = NULL;
	/* O_NONBLOCK: opening a FIFO must not wait for a writer; the type is
	 * checked right after, before any read. */
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
	if (fd == -1) {
		char target[256];
		ssize_t tl;

		ret = -errno;
		tl = readlink(path, target, sizeof(target) - 1);
		if (ret == -ENOENT && tl >= 0) {
			target[tl] = '\0';
			snprintf(err, errlen, "%s:1:1: cannot open: a symbolic link to '%s', which "
				 "does not exist\n", path, target);
		} else {
			snprintf(err, errlen, "%s:1:1: cannot open: %s\n", path, strerror(-ret));
		}
		return ret;
	}
	if (fstat(fd, &st) == -1) {
		ret = -errno;
		snprintf(err, errlen, "%s:1:1: cannot stat: %s\n", path, strerror(-ret));
		goto out;
	}
	if (!S_ISREG(st.st_mode)) {
		ret = -EINVAL;
		snprintf(err, errlen, "%s:1:1: %s, not a regular file\n", path, file_kind(st.st_mode));
		goto out;
	}
	if (st.st_size > CFG_MAX_FILE_SIZE) {
		ret = -EFBIG;
		snprintf(err, errlen, "%s:1:1: the file is %lld bytes, more than the %d (1 MiB) "
			 "allowed\n", path, (long long)st.st_size, CFG_MAX_FILE_SIZE);
		goto out;
	}
	/* Read to the end, not to st_size: files of /proc say 0 and have more;
	 * one byte past the limit tells a file that grew while read. */
	buf = malloc(CFG_MAX_FILE_SIZE + 2);
	if (!buf) {
		ret = -ENOMEM;
		goto out;
	}
	while (got <= CFG_MAX_FILE_SIZE) {
		n = read(fd, buf + got, CFG_MAX_FILE_SIZE + 1 - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			ret = -errno;
			snprintf(err, errlen, "%s:1:1: cannot read: %s\n", path, strerror(-ret));
			goto out;
		}
		if (n == 0)
			break;
		got += (size_t)n;
	}
	if (got > CFG_MAX_FILE_SIZE) {
		ret = -EFBIG;
		snprintf(err, errlen, "%s:1:1: the file is more than the %d (1 MiB) bytes allowed\n",
			 path, CFG_MAX_FILE_SIZE);
		goto out;
	}
	buf[got] = '\0';
	ret = cfg_parse(path, buf, got, out, err, errlen);
out:
	free(buf);
	close(fd);
	return ret;
}

void cfg_free(struct cfg *cfg)
{
	size_t i;

	if (!cfg)
		return;
	for (i = 0; i < cfg->nr_scopes; i++)
		free(cfg->scopes[i].rules);
	free(cfg->scopes);
	for (i = 0; i < cfg->nr_services; i++) {
		free(cfg->services[i].listen);
		free(cfg->services[i].vips);
		free(cfg->services[i].backends);
	}
	free(cfg->services);
	free(cfg);
}

