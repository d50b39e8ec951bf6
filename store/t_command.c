/*
 * t_command.c - COMMAND: the command table as Redis 7.0 clients read it
 * (COMMAND, COUNT, INFO, DOCS, LIST, GETKEYS), with the categories and
 * tips Redis derives from a command's flags.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/cmds.h"
#include "util/util.h"

/* Redis 7.0's ACL categories, in the order COMMAND lists them. */
static const char *const acl_cats[] = {
	"keyspace", "read",	  "write",     "set",	     "sortedset",
	"list",	    "hash",	  "string",    "bitmap",     "hyperloglog",
	"geo",	    "stream",	  "pubsub",    "admin",	     "fast",
	"slow",	    "blocking",	  "dangerous", "connection", "transaction",
	"scripting",
};
enum { CAT_READ = 1, CAT_WRITE = 2, CAT_PUBSUB = 12, CAT_ADMIN = 13,
       CAT_FAST = 14, CAT_SLOW = 15, CAT_DANGEROUS = 17 };

/* The table's categories plus those Redis implies from the flags. */
static uint32_t cmd_cats(const struct tn_cmd *c)
{
	uint32_t m = 0;
	const char *p = c->acl ? c->acl : "";
	size_t i;

	while (*p) {
		size_t len = strcspn(p, " ");

		for (i = 0; i < TN_ARRAY_SIZE(acl_cats); i++)
			if (strlen(acl_cats[i]) == len &&
			    strncmp(acl_cats[i], p, len) == 0)
				m |= 1u << i;
		p += len;
		p += strspn(p, " ");
	}
	if (c->flags & TN_CMD_WRITE)
		m |= 1u << CAT_WRITE;
	if (c->flags & TN_CMD_READONLY)
		m |= 1u << CAT_READ;
	if (c->flags & TN_CMD_ADMIN)
		m |= 1u << CAT_ADMIN | 1u << CAT_DANGEROUS;
	if (c->flags & TN_CMD_PUBSUB)
		m |= 1u << CAT_PUBSUB;
	if (c->flags & TN_CMD_FAST)
		m |= 1u << CAT_FAST;
	if (!(m & 1u << CAT_FAST))
		m |= 1u << CAT_SLOW;
	return m;
}

/* Flag names as COMMAND shows them (the hidden ones left out, as Redis
 * hides may_replicate and sentinel). */
static const struct {
	uint32_t flag;
	const char *name;
} flag_names[] = {
	{TN_CMD_WRITE, "write"},     {TN_CMD_READONLY, "readonly"},
	{TN_CMD_DENYOOM, "denyoom"}, {TN_CMD_ADMIN, "admin"},
	{TN_CMD_PUBSUB, "pubsub"},   {TN_CMD_NOSCRIPT, "noscript"},
	{TN_CMD_LOADING, "loading"}, {TN_CMD_STALE, "stale"},
	{TN_CMD_FAST, "fast"},	     {TN_CMD_NO_AUTH, "no_auth"},
	{TN_CMD_NO_MULTI, "no_multi"},
};

static void reply_cmd_info(struct tn_reply *r, const struct tn_cmd *c)
{
	uint32_t cats = cmd_cats(c);
	long long n = 0;
	size_t i;

	tn_reply_array(r, 10);
	tn_reply_bulkstr(r, c->name);
	tn_reply_int(r, c->arity);
	for (i = 0; i < TN_ARRAY_SIZE(flag_names); i++)
		n += (c->flags & flag_names[i].flag) != 0;
	n += c->getkeys != NULL;
	n += (c->flags & TN_CMD_ALLOW_BUSY) != 0;
	tn_reply_set(r, n);
	for (i = 0; i < TN_ARRAY_SIZE(flag_names); i++)
		if (c->flags & flag_names[i].flag)
			tn_reply_status(r, flag_names[i].name);
	if (c->getkeys)
		tn_reply_status(r, "movablekeys");
	if (c->flags & TN_CMD_ALLOW_BUSY)
		tn_reply_status(r, "allow_busy");
	tn_reply_int(r, c->first_key);
	tn_reply_int(r, c->last_key);
	tn_reply_int(r, c->key_step);
	tn_reply_set(r, __builtin_popcount(cats));
	for (i = 0; i < TN_ARRAY_SIZE(acl_cats); i++) {
		if (cats & 1u << i) {
			char cat[32];

			snprintf(cat, sizeof(cat), "@%s", acl_cats[i]);
			tn_reply_status(r, cat);
		}
	}
	/* Redis 7 turned the "random" flag into this tip */
	if (c->flags & TN_CMD_RANDOM) {
		tn_reply_set(r, 1);
		tn_reply_status(r, "nondeterministic_output");
	} else {
		tn_reply_set(r, 0);
	}
	tn_reply_set(r, 0); /* key specs */
	if (!c->sub) {
		tn_reply_set(r, 0);
		return;
	}
	for (n = 0; c->sub[n].name; n++)
		;
	tn_reply_array(r, n);
	for (i = 0; c->sub[i].name; i++)
		reply_cmd_info(r, &c->sub[i]);
}

static void reply_cmd_docs(struct tn_reply *r, const struct tn_cmd *c)
{
	long long n = 1;
	size_t i;

	n += c->summary != NULL;
	n += c->since != NULL;
	n += c->sub != NULL;
	tn_reply_map(r, n);
	if (c->summary) {
		tn_reply_bulkstr(r, "summary");
		tn_reply_bulkstr(r, c->summary);
	}
	if (c->since) {
		tn_reply_bulkstr(r, "since");
		tn_reply_bulkstr(r, c->since);
	}
	tn_reply_bulkstr(r, "group");
	tn_reply_bulkstr(r, c->group ? c->group : "generic");
	if (!c->sub)
		return;
	tn_reply_bulkstr(r, "subcommands");
	for (n = 0; c->sub[n].name; n++)
		;
	tn_reply_map(r, n);
	for (i = 0; c->sub[i].name; i++) {
		tn_reply_bulkstr(r, c->sub[i].name);
		reply_cmd_docs(r, &c->sub[i]);
	}
}

/* "get" or "config|get", as COMMAND INFO and DOCS accept them. */
static const struct tn_cmd *lookup_full(const struct tn_arg *a)
{
	const char *bar = memchr(a->p, '|', a->len);
	const struct tn_cmd *parent;
	size_t plen;

	if (!bar)
		return tn_cmd_lookup(a->p, a->len);
	plen = (size_t)(bar - a->p);
	parent = tn_cmd_lookup(a->p, plen);
	if (!parent || !parent->sub)
		return NULL;
	return tn_cmd_lookup_sub(parent, bar + 1, a->len - plen - 1);
}

static void reply_all_info(struct tn_reply *r)
{
	size_t i, n = tn_cmd_count();

	tn_reply_array(r, (long long)n);
	for (i = 0; i < n; i++)
		reply_cmd_info(r, tn_cmd_at(i));
}

static void cmd_command(struct tn_ctx *x)
{
	reply_all_info(x->r);
}

static void cmd_command_count(struct tn_ctx *x)
{
	tn_reply_int(x->r, (long long)tn_cmd_count());
}

static void cmd_command_info(struct tn_ctx *x)
{
	int i;

	if (x->argc == 2) {
		reply_all_info(x->r);
		return;
	}
	tn_reply_array(x->r, x->argc - 2);
	for (i = 2; i < x->argc; i++) {
		const struct tn_cmd *c = lookup_full(&x->argv[i]);

		if (c)
			reply_cmd_info(x->r, c);
		else
			tn_reply_null(x->r);
	}
}

static void cmd_command_docs(struct tn_ctx *x)
{
	size_t i, n = tn_cmd_count();
	long long found = 0;
	int a;

	if (x->argc == 2) {
		tn_reply_map(x->r, (long long)n);
		for (i = 0; i < n; i++) {
			tn_reply_bulkstr(x->r, tn_cmd_at(i)->name);
			reply_cmd_docs(x->r, tn_cmd_at(i));
		}
		return;
	}
	for (a = 2; a < x->argc; a++)
		found += lookup_full(&x->argv[a]) != NULL;
	tn_reply_map(x->r, found);
	for (a = 2; a < x->argc; a++) {
		const struct tn_cmd *c = lookup_full(&x->argv[a]);

		if (!c)
			continue;
		tn_reply_bulkstr(x->r, c->name);
		reply_cmd_docs(x->r, c);
	}
}

enum { FILTER_NONE, FILTER_MODULE, FILTER_ACLCAT, FILTER_PATTERN };

static bool list_match(const struct tn_cmd *c, int type,
		       const struct tn_arg *arg)
{
	size_t i;

	switch (type) {
	case FILTER_MODULE:
		return false; /* no modules */
	case FILTER_ACLCAT:
		for (i = 0; i < TN_ARRAY_SIZE(acl_cats); i++)
			if (tn_arg_is(arg, acl_cats[i]))
				return cmd_cats(c) & 1u << i;
		return false;
	case FILTER_PATTERN:
		return tn_glob_match(arg->p, arg->len, c->name,
				     strlen(c->name), true);
	}
	return true;
}

static void cmd_command_list(struct tn_ctx *x)
{
	const struct tn_arg *arg = NULL;
	int type = FILTER_NONE, a;
	size_t i, n = tn_cmd_count(), mark;
	long long count = 0;

	for (a = 2; a < x->argc; a++) {
		int more = x->argc - 1 - a;

		if (!tn_arg_is(&x->argv[a], "filterby") || more != 2) {
			tn_reply_error(x->r, TN_ERR_SYNTAX);
			return;
		}
		if (tn_arg_is(&x->argv[a + 1], "module")) {
			type = FILTER_MODULE;
		} else if (tn_arg_is(&x->argv[a + 1], "aclcat")) {
			type = FILTER_ACLCAT;
		} else if (tn_arg_is(&x->argv[a + 1], "pattern")) {
			type = FILTER_PATTERN;
		} else {
			tn_reply_error(x->r, TN_ERR_SYNTAX);
			return;
		}
		arg = &x->argv[a + 2];
		a += 2;
	}
	mark = tn_reply_defer(x->r);
	for (i = 0; i < n; i++) {
		const struct tn_cmd *c = tn_cmd_at(i), *s;

		if (list_match(c, type, arg)) {
			tn_reply_bulkstr(x->r, c->name);
			count++;
		}
		for (s = c->sub; s && s->name; s++) {
			if (list_match(s, type, arg)) {
				tn_reply_bulkstr(x->r, s->name);
				count++;
			}
		}
	}
	tn_reply_defer_set(x->r, mark, '*', count);
}

static void cmd_command_getkeys(struct tn_ctx *x)
{
	const struct tn_arg *argv = x->argv + 2;
	int argc = x->argc - 2, n, i, *keys;
	const struct tn_cmd *c = tn_cmd_lookup(argv[0].p, argv[0].len);

	if (c && c->sub && argc >= 2)
		c = tn_cmd_lookup_sub(c, argv[1].p, argv[1].len);
	if (!c) {
		tn_reply_error(x->r, "ERR Invalid command specified");
		return;
	}
	if (c->first_key <= 0 && !c->getkeys) {
		tn_reply_error(x->r, "ERR The command has no key arguments");
		return;
	}
	if ((c->arity > 0 && c->arity != argc) || argc < -c->arity) {
		tn_reply_error(x->r, "ERR Invalid number of arguments specified "
				     "for command");
		return;
	}
	keys = malloc(sizeof(*keys) * argc);
	if (!keys) {
		tn_reply_error(x->r, TN_ERR_OOM);
		return;
	}
	n = tn_cmd_keys(c, argv, argc, keys, argc);
	if (n <= 0) {
		tn_reply_error(x->r,
			       "ERR Invalid arguments specified for command");
	} else {
		tn_reply_array(x->r, n);
		for (i = 0; i < n; i++)
			tn_reply_bulk(x->r, argv[keys[i]].p, argv[keys[i]].len);
	}
	free(keys);
}

static void cmd_command_help(struct tn_ctx *x)
{
	static const char *const help[] = {
		"(no subcommand)",
		"    Return details about all Redis commands.",
		"COUNT",
		"    Return the total number of commands in this Redis server.",
		"LIST",
		"    Return a list of all commands in this Redis server.",
		"INFO [<command-name> ...]",
		"    Return details about multiple Redis commands.",
		"    If no command names are given, documentation details for "
		"all",
		"    commands are returned.",
		"DOCS [<command-name> ...]",
		"    Return documentation details about multiple Redis "
		"commands.",
		"    If no command names are given, documentation details for "
		"all",
		"    commands are returned.",
		"GETKEYS <full-command>",
		"    Return the keys from a full Redis command.",
		NULL,
	};

	tn_reply_help(x, help);
}

#define LS (TN_CMD_LOADING | TN_CMD_STALE)

static const struct tn_cmd command_subs[] = {
	{"command|count", 2, LS, 0, 0, 0, cmd_command_count, NULL,
	 "slow connection", NULL, "Get total number of Redis commands",
	 "2.8.13", "server"},
	{"command|info", -2, LS, 0, 0, 0, cmd_command_info, NULL,
	 "slow connection", NULL,
	 "Get array of specific Redis command details, or all when no "
	 "argument is given.",
	 "2.8.13", "server"},
	{"command|docs", -2, LS, 0, 0, 0, cmd_command_docs, NULL,
	 "slow connection", NULL,
	 "Get array of specific Redis command documentation", "7.0.0",
	 "server"},
	{"command|list", -2, LS, 0, 0, 0, cmd_command_list, NULL,
	 "slow connection", NULL, "Get an array of Redis command names",
	 "7.0.0", "server"},
	{"command|getkeys", -4, LS, 0, 0, 0, cmd_command_getkeys, NULL,
	 "slow connection", NULL, "Extract keys given a full Redis command",
	 "2.8.13", "server"},
	{"command|help", 2, LS, 0, 0, 0, cmd_command_help, NULL,
	 "slow connection", NULL,
	 "Show helpful text about the different subcommands", "5.0.0",
	 "server"},
	{0},
};

const struct tn_cmd tn_cmds_command[] = {
	{"command", -1, LS, 0, 0, 0, cmd_command, NULL, "slow connection",
	 command_subs, "Get array of Redis command details", "2.8.13",
	 "server"},
	{0},
};
