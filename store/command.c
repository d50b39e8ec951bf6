/*
 * command.c - the one command table: every t_*.c file contributes its
 * entries; lookups go through a small open-addressing hash built on first
 * use, keyed by the lower-cased name.
 */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "store/cmds.h"
#include "util/util.h"

#define CMD_HASH_SLOTS 1024 /* power of two, > 2x the commands */
#define CMD_NAME_MAX 64

static const struct tn_cmd *cmd_slots[CMD_HASH_SLOTS];
static const struct tn_cmd **cmd_list;
static size_t cmd_n;

static const struct tn_cmd *const *all_tables(size_t *n)
{
	static const struct tn_cmd *t[] = {
		tn_cmds_string,
		tn_cmds_keys,
		tn_cmds_set,
		tn_cmds_server,
		tn_cmds_info,
		tn_cmds_client,
		tn_cmds_command,
		tn_cmds_multi,
		tn_cmds_pubsub,
		tn_cmds_aof,
		tn_cmds_save,
		tn_cmds_replicaof,
		tn_cmds_repl,
	};

	*n = TN_ARRAY_SIZE(t);
	return t;
}

static uint32_t name_hash(const char *s, size_t len)
{
	uint32_t h = 2166136261u;
	size_t i;

	for (i = 0; i < len; i++)
		h = (h ^ (uint8_t)tolower((unsigned char)s[i])) * 16777619u;
	return h;
}

static void build(void)
{
	size_t nt, i, total = 0;
	const struct tn_cmd *const *t = all_tables(&nt);
	const struct tn_cmd *c;

	for (i = 0; i < nt; i++)
		for (c = t[i]; c->name; c++)
			total++;
	cmd_list = calloc(total, sizeof(*cmd_list));
	if (!cmd_list)
		abort();
	for (i = 0; i < nt; i++) {
		for (c = t[i]; c->name; c++) {
			uint32_t h = name_hash(c->name, strlen(c->name));

			while (cmd_slots[h & (CMD_HASH_SLOTS - 1)])
				h++;
			cmd_slots[h & (CMD_HASH_SLOTS - 1)] = c;
			cmd_list[cmd_n++] = c;
		}
	}
}

const struct tn_cmd *tn_cmd_lookup(const char *name, size_t len)
{
	uint32_t h;
	const struct tn_cmd *c;

	if (tn_unlikely(!cmd_list))
		build();
	if (len == 0 || len >= CMD_NAME_MAX)
		return NULL;
	for (h = name_hash(name, len);; h++) {
		c = cmd_slots[h & (CMD_HASH_SLOTS - 1)];
		if (!c)
			return NULL;
		if (strlen(c->name) == len && strncasecmp(c->name, name, len) == 0)
			return c;
	}
}

const struct tn_cmd *tn_cmd_lookup_sub(const struct tn_cmd *parent,
				       const char *name, size_t len)
{
	const struct tn_cmd *s;
	size_t plen = strlen(parent->name);

	for (s = parent->sub; s && s->name; s++) {
		/* subcommands are named "parent|sub" */
		if (strlen(s->name) == plen + 1 + len &&
		    strncasecmp(s->name + plen + 1, name, len) == 0)
			return s;
	}
	return NULL;
}

const struct tn_cmd *tn_cmd_at(size_t i)
{
	if (!cmd_list)
		build();
	return i < cmd_n ? cmd_list[i] : NULL;
}

size_t tn_cmd_count(void)
{
	if (!cmd_list)
		build();
	return cmd_n;
}

const char *tn_cmd_fullname(const struct tn_cmd *cmd)
{
	return cmd->name;
}

int tn_cmd_keys(const struct tn_cmd *cmd, const struct tn_arg *argv, int argc,
		int *keys, int max)
{
	int first = cmd->first_key, last = cmd->last_key, i, n = 0;

	if (cmd->getkeys)
		return cmd->getkeys(argv, argc, keys, max);
	if (first <= 0)
		return 0;
	if (last < 0)
		last = argc + last;
	if (last >= argc)
		last = argc - 1;
	for (i = first; i <= last; i += cmd->key_step ? cmd->key_step : 1) {
		if (n == max)
			return -1;
		keys[n++] = i;
	}
	return n;
}
