/*
 * test_command.c - the merged command table: every entry well formed
 * (lower-case name, sane arity, key positions inside the arity, known
 * flags and ACL categories), lookups case-insensitive, subcommands found
 * under their parent.
 */
#include <criterion/criterion.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/store.h"
#include "util/util.h"

#define ALL_FLAGS ((1u << 16) - 1)

static const char *const acl_cats[] = {
	"keyspace", "read",   "write",	   "set",	 "sortedset",
	"list",	    "hash",   "string",	   "bitmap",	 "hyperloglog",
	"geo",	    "stream", "pubsub",	   "admin",	 "fast",
	"slow",	    "blocking", "dangerous", "connection", "transaction",
	"scripting", NULL,
};

/* Redis 7.0's command groups (COMMAND DOCS "group"). */
static const char *const groups[] = {
	"generic",     "string",     "list",	 "set",	     "sorted-set",
	"hash",	       "pubsub",     "transactions", "connection", "server",
	"scripting",   "hyperloglog", "cluster", "sentinel", "geo",
	"stream",      "bitmap",     NULL,
};

static bool in_list(const char *const *list, const char *s, size_t len)
{
	size_t i;

	for (i = 0; list[i]; i++)
		if (strlen(list[i]) == len && strncmp(list[i], s, len) == 0)
			return true;
	return false;
}

static void check_name(const struct tn_cmd *c, const char *parent)
{
	const char *p;

	cr_assert(c->name, "entry without a name");
	cr_expect_gt(strlen(c->name), 0);
	cr_expect_lt(strlen(c->name), 64, "%s: name too long", c->name);
	for (p = c->name; *p; p++)
		cr_expect(islower((unsigned char)*p) ||
				  isdigit((unsigned char)*p) || *p == '-' ||
				  *p == '_' || (parent && *p == '|'),
			  "%s: '%c' in a command name", c->name, *p);
	if (parent) {
		size_t n = strlen(parent);

		cr_expect(strncmp(c->name, parent, n) == 0 &&
				  c->name[n] == '|' && c->name[n + 1] != '\0' &&
				  !strchr(c->name + n + 1, '|'),
			  "subcommand %s of %s", c->name, parent);
	} else {
		cr_expect(!strchr(c->name, '|'), "%s: '|' at top level",
			  c->name);
	}
}

/* The fewest arguments the command accepts. */
static int min_argc(const struct tn_cmd *c)
{
	return c->arity > 0 ? c->arity : -c->arity;
}

static void check_keys(const struct tn_cmd *c)
{
	int argc = min_argc(c), keys[64], n, i;
	struct tn_arg argv[64];

	if (c->getkeys) {
		cr_expect(!(c->flags & TN_CMD_ALLSTRIPES),
			  "%s: getkeys and ALLSTRIPES", c->name);
		return;
	}
	if (c->first_key == 0) {
		cr_expect(c->last_key == 0 && c->key_step == 0,
			  "%s: keyless but last %d step %d", c->name,
			  c->last_key, c->key_step);
		return;
	}
	cr_expect_gt(c->first_key, 0, "%s: first key %d", c->name,
		     c->first_key);
	cr_expect_geq(c->key_step, 1, "%s: key step %d", c->name, c->key_step);
	cr_expect(!(c->flags & TN_CMD_ALLSTRIPES),
		  "%s: declares keys and walks stripes itself", c->name);
	cr_expect_lt(c->first_key, argc, "%s: first key %d beyond arity %d",
		     c->name, c->first_key, c->arity);
	if (c->last_key > 0) {
		cr_expect_geq(c->last_key, c->first_key, "%s", c->name);
		cr_expect_lt(c->last_key, argc,
			     "%s: last key %d beyond arity %d", c->name,
			     c->last_key, c->arity);
	} else {
		cr_expect(c->arity < 0, "%s: last key from the end (%d) with a "
					"fixed arity",
			  c->name, c->last_key);
		cr_expect_geq(argc + c->last_key, c->first_key,
			      "%s: last key %d before the first at argc %d",
			      c->name, c->last_key, argc);
	}
	/* the smallest valid call yields keys, all real arguments */
	cr_assert_lt(argc, 64);
	for (i = 0; i < argc; i++) {
		argv[i].p = "x";
		argv[i].len = 1;
	}
	n = tn_cmd_keys(c, argv, argc, keys, 64);
	cr_expect_geq(n, 1, "%s: no keys from %d arguments", c->name, argc);
	for (i = 0; i < n; i++)
		cr_expect(keys[i] >= 1 && keys[i] < argc,
			  "%s: key index %d of %d", c->name, keys[i], argc);
}

static void check_meta(const struct tn_cmd *c)
{
	const char *p = c->acl;

	cr_expect(c->fn != NULL, "%s: no handler", c->name);
	cr_expect_eq(c->flags & ~ALL_FLAGS, 0, "%s: unknown flags %#x", c->name,
		     c->flags);
	cr_expect(!((c->flags & TN_CMD_WRITE) && (c->flags & TN_CMD_READONLY)),
		  "%s: both write and readonly", c->name);
	cr_expect(p != NULL, "%s: no ACL categories", c->name);
	while (p && *p) {
		size_t len = strcspn(p, " ");

		cr_expect(len > 0 && in_list(acl_cats, p, len),
			  "%s: unknown ACL category '%.*s'", c->name, (int)len,
			  p);
		p += len;
		p += strspn(p, " ");
	}
	if (c->acl) {
		bool fast = strstr(c->acl, "fast") != NULL;

		cr_expect(fast == ((c->flags & TN_CMD_FAST) != 0),
			  "%s: 'fast' category and flag disagree", c->name);
	}
	if (c->group)
		cr_expect(in_list(groups, c->group, strlen(c->group)),
			  "%s: unknown group %s", c->name, c->group);
	if (c->since) {
		int a, b, d;

		cr_expect(sscanf(c->since, "%d.%d.%d", &a, &b, &d) == 3,
			  "%s: since \"%s\"", c->name, c->since);
	}
}

static void check_entry(const struct tn_cmd *c, const struct tn_cmd *parent)
{
	check_name(c, parent ? parent->name : NULL);
	cr_expect_neq(c->arity, 0, "%s: arity 0", c->name);
	if (parent)
		cr_expect_geq(min_argc(c), 2, "%s: arity %d for a subcommand",
			      c->name, c->arity);
	check_keys(c);
	check_meta(c);
}

Test(command, table_sanity)
{
	size_t i, n = tn_cmd_count();

	cr_assert_gt(n, 10);
	cr_expect_null(tn_cmd_at(n));
	for (i = 0; i < n; i++) {
		const struct tn_cmd *c = tn_cmd_at(i), *s;

		cr_assert(c, "hole at %zu", i);
		check_entry(c, NULL);
		for (s = c->sub; s && s->name; s++) {
			const char *sub = s->name + strlen(c->name) + 1;

			check_entry(s, c);
			cr_expect_eq(tn_cmd_lookup_sub(c, sub, strlen(sub)), s,
				     "%s not found under %s", s->name, c->name);
			cr_expect(!s->sub, "%s: nested subcommands", s->name);
		}
		if (c->sub)
			cr_expect_lt(c->arity, 0,
				     "%s: a container with a fixed arity",
				     c->name);
	}
}

Test(command, names_unique_and_found)
{
	size_t i, j, n = tn_cmd_count();

	for (i = 0; i < n; i++) {
		const struct tn_cmd *c = tn_cmd_at(i);

		cr_expect_eq(tn_cmd_lookup(c->name, strlen(c->name)), c,
			     "lookup(%s) finds another entry", c->name);
		for (j = i + 1; j < n; j++)
			cr_expect_str_neq(c->name, tn_cmd_at(j)->name,
					  "%s twice", c->name);
	}
}

Test(command, lookup_case_insensitive)
{
	size_t i, n = tn_cmd_count();

	for (i = 0; i < n; i++) {
		const struct tn_cmd *c = tn_cmd_at(i);
		char up[64], mixed[64];
		size_t k, len = strlen(c->name);

		for (k = 0; k <= len; k++) {
			up[k] = (char)toupper((unsigned char)c->name[k]);
			mixed[k] = k % 2 ? up[k] : c->name[k];
		}
		cr_expect_eq(tn_cmd_lookup(up, len), c, "%s", up);
		cr_expect_eq(tn_cmd_lookup(mixed, len), c, "%s", mixed);
	}
}

Test(command, lookup_misses)
{
	const struct tn_cmd *get = tn_cmd_lookup("get", 3);

	cr_assert(get);
	cr_expect_null(tn_cmd_lookup("", 0));
	cr_expect_null(tn_cmd_lookup("ge", 2));
	cr_expect_null(tn_cmd_lookup("getx", 4));
	cr_expect_null(tn_cmd_lookup("nosuchcommand", 13));
	/* the length counts, not a NUL */
	cr_expect_eq(tn_cmd_lookup("getxyz", 3), get);
	cr_expect_null(tn_cmd_lookup("config|get", 10));
	{
		char longname[300];

		memset(longname, 'a', sizeof(longname));
		cr_expect_null(tn_cmd_lookup(longname, sizeof(longname)));
	}
}

Test(command, subcommand_lookup)
{
	const struct tn_cmd *config = tn_cmd_lookup("CONFIG", 6), *s;
	const struct tn_cmd *client = tn_cmd_lookup("client", 6);

	cr_assert(config && config->sub);
	s = tn_cmd_lookup_sub(config, "GET", 3);
	cr_assert(s);
	cr_expect_str_eq(s->name, "config|get");
	cr_expect_str_eq(tn_cmd_fullname(s), "config|get");
	cr_expect_eq(tn_cmd_lookup_sub(config, "get", 3), s);
	cr_expect_eq(tn_cmd_lookup_sub(config, "gEt", 3), s);
	cr_expect_null(tn_cmd_lookup_sub(config, "ge", 2));
	cr_expect_null(tn_cmd_lookup_sub(config, "gett", 4));
	cr_expect_null(tn_cmd_lookup_sub(config, "", 0));
	cr_expect_null(tn_cmd_lookup_sub(config, "list", 4));
	cr_assert(client && client->sub);
	s = tn_cmd_lookup_sub(client, "NO-EVICT", 8);
	cr_assert(s);
	cr_expect_str_eq(s->name, "client|no-evict");
	cr_expect_eq(s->arity, 3);
	cr_expect_null(tn_cmd_lookup_sub(tn_cmd_lookup("get", 3), "x", 1));
}

Test(command, connection_flags)
{
	static const char *const noauth[] = {"auth", "hello", "quit", "reset"};
	static const char *const needauth[] = {"ping", "get", "set", "info",
					       "config", "client", "command"};
	size_t i;

	for (i = 0; i < TN_ARRAY_SIZE(noauth); i++) {
		const struct tn_cmd *c =
			tn_cmd_lookup(noauth[i], strlen(noauth[i]));

		cr_assert(c, "%s missing", noauth[i]);
		cr_expect(c->flags & TN_CMD_NO_AUTH, "%s lacks NO_AUTH",
			  noauth[i]);
	}
	for (i = 0; i < TN_ARRAY_SIZE(needauth); i++) {
		const struct tn_cmd *c =
			tn_cmd_lookup(needauth[i], strlen(needauth[i]));

		cr_assert(c, "%s missing", needauth[i]);
		cr_expect(!(c->flags & TN_CMD_NO_AUTH), "%s has NO_AUTH",
			  needauth[i]);
	}
	cr_expect(tn_cmd_lookup("dbsize", 6)->flags & TN_CMD_ALLSTRIPES);
	cr_expect(tn_cmd_lookup("flushall", 8)->flags & TN_CMD_ALLSTRIPES);
}

Test(command, keys_of_a_call)
{
	const struct tn_cmd *set = tn_cmd_lookup("set", 3);
	struct tn_arg argv[] = {{"SET", 3}, {"k", 1}, {"v", 1}};
	int keys[4];

	cr_assert(set);
	cr_expect_eq(tn_cmd_keys(set, argv, 3, keys, 4), 1);
	cr_expect_eq(keys[0], 1);
	cr_expect_eq(tn_cmd_keys(tn_cmd_lookup("ping", 4), argv, 1, keys, 4),
		     0);
}
